"""ReachTwoGoals simulated in PyBullet: Reach's scene with two target spheres."""

from envs.scenes.pybullet_reach import PybulletReachScene
from envs.tasks import reach_two_goals


class PybulletReachTwoGoalsScene(PybulletReachScene):
    """The arm and the left and right goal spheres."""

    TARGETS, CAMERAS, LABELS = reach_two_goals.TARGETS, reach_two_goals.CAMERAS, reach_two_goals.LABELS
