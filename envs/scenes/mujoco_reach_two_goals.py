"""ReachTwoGoals simulated in MuJoCo: Reach's scene with two target spheres."""

from envs.scenes.mujoco_reach import MujocoReachScene
from envs.tasks import reach_two_goals


class MujocoReachTwoGoalsScene(MujocoReachScene):
    """The arm and the left and right goal spheres."""

    TARGETS, CAMERAS, LABELS = reach_two_goals.TARGETS, reach_two_goals.CAMERAS, reach_two_goals.LABELS
    MODEL = "reach_two_goals"
