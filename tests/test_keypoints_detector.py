"""Boxes (IoU, NMS against a brute-force reference, AP), heatmap peaks, keypoints and the detector."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401
from envs.cameras import CameraParams, intrinsics, look_at
from envs.errors import ConfigError
from perception import make_perception
from perception.boxes import average_precision, box_iou, mean_average_precision, nms
from perception.detector import Detector, fit_detector, load_detector
from perception.heatmap import HeatmapNet, ImageNormalization, find_peaks, focal_loss, gaussian_maps
from perception.keypoints import (
    HeatmapTrainConfig,
    KeypointModel,
    evaluate_keypoints,
    fit_keypoints,
    fit_loop,
    lift,
    load_keypoints,
    match_error,
)
from perception.targets import KEYPOINT_NAMES, boxes_from_segmentation, instance_boxes, project
from perception.wrapper import PerceptionWrapper

torch.set_num_threads(1)


def brute_force_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """The textbook loop, one pair at a time, in plain Python."""
    def iou(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union if union > 0 else 0.0

    remaining = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep = []
    while remaining:
        best = remaining.pop(0)
        keep.append(best)
        remaining = [i for i in remaining if iou(boxes[best], boxes[i]) <= threshold]
    return keep


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_nms_matches_the_brute_force_reference(seed: int, threshold: float) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 50, (60, 2))
    boxes = np.c_[xy, xy + rng.uniform(2, 20, (60, 2))]
    scores = rng.integers(0, 10, 60).astype(float)  # ties on purpose
    assert nms(boxes, scores, threshold).tolist() == brute_force_nms(boxes, scores, threshold)


def test_box_iou_and_edge_cases() -> None:
    a = np.array([[0, 0, 2, 2]], float)
    assert box_iou(a, np.array([[1, 1, 3, 3], [2, 2, 4, 4], [0, 0, 2, 2]]))[0].tolist() == pytest.approx(
        [1 / 7, 0.0, 1.0])
    assert nms(np.zeros((0, 4)), np.zeros(0)).tolist() == []


def test_average_precision() -> None:
    assert average_precision(np.array([0.9, 0.8]), np.array([True, True]), 2) == pytest.approx(1.0)
    # a false positive ranked first: precision 1/2 at recall 1/2, then 2/3 at recall 1
    assert average_precision(np.array([0.9, 0.8, 0.7]), np.array([False, True, True]), 2) == pytest.approx(
        2 / 3)
    assert average_precision(np.array([0.9]), np.array([True]), 2) == pytest.approx(0.5)  # one missed
    box = np.array([[0, 0, 4, 4]], np.float32)
    result = mean_average_precision([(box, np.array([0.9]), np.array([0]))], [(box, np.array([0]))], 1)
    assert result["map"] == pytest.approx(1.0)


def test_ignored_boxes_are_neither_positives_nor_false_positives() -> None:
    seen, hidden = np.array([[0, 0, 4, 4]], np.float32), np.array([[10, 10, 12, 12]], np.float32)
    truth = (np.concatenate([seen, hidden]), np.array([0, 0]), np.array([False, True]))
    # a detection on the hidden object ranked first, then one on the visible object
    dets = [(np.concatenate([hidden, seen]), np.array([0.9, 0.8]), np.array([0, 0]))]
    assert mean_average_precision(dets, [truth], 1)["map"] == pytest.approx(1.0)
    assert mean_average_precision(dets, [truth[:2]], 1)["map"] == pytest.approx(1.0)  # both count, both found
    missed = [(seen, np.array([0.8]), np.array([0]))]
    assert mean_average_precision(missed, [truth], 1)["map"] == pytest.approx(1.0)  # hidden: not owed
    assert mean_average_precision(missed, [truth[:2]], 1)["map"] == pytest.approx(0.5)


def test_peaks_are_found_to_sub_pixel_precision() -> None:
    points = np.array([[10.3, 20.7], [40.0, 8.6]])
    heat = gaussian_maps(points, (32, 32), sigma=1.5)
    uv, scores = find_peaks(heat, 2)
    order = np.argsort(uv[:, 0])
    np.testing.assert_allclose(uv[order], points, atol=0.35)
    assert len(find_peaks(np.zeros((8, 8)), 3, threshold=0.1)[0]) == 0
    plateau = np.zeros((8, 8))
    plateau[3, 3:5] = 1.0  # a point exactly between two cells: one peak, not two
    uv, _ = find_peaks(plateau, 2)
    assert len(uv) == 1 and uv[0].tolist() == pytest.approx([8.0, 7.0])


def test_focal_loss_punishes_confident_wrong_peaks_more_than_cross_entropy() -> None:
    target = torch.zeros(1, 2, 8, 8)
    target[0, 0, 4, 4] = 1.0
    good = torch.full((1, 2, 8, 8), -8.0)
    good[0, 0, 4, 4] = 8.0
    wrong = good.clone()
    wrong[0, 1, 4, 4] = 0.0  # the other class at 0.5 on the same centre
    assert float(focal_loss(good, target)) < 1e-3
    focal_ratio = float(focal_loss(wrong, target)) / float(focal_loss(good, target))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    assert focal_ratio > float(bce(wrong, target)) / float(bce(good, target))


def test_unordered_sets_are_matched_optimally() -> None:
    truth = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], np.float32)
    pred = truth[[2, 0, 3, 1]] + 0.5
    np.testing.assert_allclose(match_error(pred, truth), np.full(4, np.sqrt(0.5)), rtol=1e-5)
    assert np.isinf(match_error(pred[:3], truth)).sum() == 1


def test_projection_and_lifting_are_inverse() -> None:
    K = intrinsics(45.0, 64, 64)
    T = look_at((0.0, 0.0, 0.8), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    params = CameraParams(K, T, 64, 64, 0.05, 3.0)
    world = np.array([[0.05, -0.02, 0.05], [-0.1, 0.1, 0.05]])
    uv = project(world, K, T)
    depth = np.full((64, 64), 0.75, np.float32)  # a plane at z = 0.05
    np.testing.assert_allclose(lift(uv, depth, params), world, atol=1e-5)
    assert np.isnan(lift(np.array([[np.nan, np.nan]]), depth, params)).all()


def squares(n: int, seed: int, size: int = 32) -> dict[str, np.ndarray]:
    """Images with a red (label 1) and a blue (label 2) square; keypoints: red corners, blue centre."""
    rng = np.random.default_rng(seed)
    rgb = np.full((n, size, size, 3), 128, np.uint8)
    seg = np.zeros((n, size, size), np.uint8)
    kps = np.zeros((n, 5, 2), np.float32)
    for i in range(n):
        for label, colour in ((1, (230, 30, 30)), (2, (30, 30, 230))):
            while True:
                s = int(rng.integers(5, 9))
                x, y = rng.integers(1, size - s - 1, 2)
                if not seg[i, y - 1:y + s + 1, x - 1:x + s + 1].any():
                    break
            rgb[i, y:y + s, x:x + s], seg[i, y:y + s, x:x + s] = colour, label
            if label == 1:
                kps[i, :4] = [(x, y), (x + s, y), (x + s, y + s), (x, y + s)]
            else:
                kps[i, 4] = (x + s / 2, y + s / 2)
    return {"image_rgb": rgb, "image_depth": np.ones((n, size, size), np.float32) - 0.01 * (seg > 0),
            "image_segmentation": seg, "keypoints_px": kps}


FAST = {"steps": 250, "batch_size": 6, "lr": 5e-3, "widths": [16, 16, 16], "sigma": 1.0, "eval_every": 250}


def test_keypoints_overfit_a_tiny_set_and_round_trip(tmp_path) -> None:
    data = squares(6, 0, 24)
    model, history = fit_keypoints(["corner"] * 4 + ["centre"], data, data, HeatmapTrainConfig(**FAST),
                                   progress=False)
    assert history[-1]["pck@2px"] > 0.9, history[-1]
    path = tmp_path / "kp.pt"
    torch.save(model.checkpoint({"image_size": 24, "camera": "top"}), path)
    loaded, meta = load_keypoints(str(path))
    assert evaluate_keypoints(loaded, data)["pck@2px"] == history[-1]["pck@2px"]
    with pytest.raises(ConfigError, match="camera intrinsics"):
        make_perception({"name": "keypoints", "checkpoint": str(path)})


def test_detector_overfits_a_tiny_set_and_round_trip(tmp_path) -> None:
    data = squares(6, 1, 24)
    det, history = fit_detector(["red", "blue"], [1, 2], data, data, HeatmapTrainConfig(**FAST),
                                progress=False)
    assert history[-1]["map@0.5"] > 0.9, history[-1]
    boxes, ids = boxes_from_segmentation(data["image_segmentation"][0], [1, 2])
    assert ids.tolist() == [1, 2] and (boxes[:, 2:] - boxes[:, :2] >= 5).all()
    path = tmp_path / "det.pt"
    torch.save(det.checkpoint({"image_size": 24, "camera": "top"}), path)
    module = make_perception({"name": "detector", "checkpoint": str(path), "keep": []})
    out = module({"top_rgb": data["image_rgb"][0], "top_depth": data["image_depth"][0]})
    assert out["boxes"].shape == (2, 4) and (out["box_scores"] > 0.3).all()
    assert box_iou(out["boxes"], boxes).diagonal().min() > 0.5
    with pytest.raises(ConfigError, match="trained on 24x24"):
        module({"top_rgb": np.zeros((64, 64, 3), np.uint8), "top_depth": np.zeros((64, 64), np.float32)})
    with pytest.raises(KeyError, match="top_depth"):
        module({"top_rgb": data["image_rgb"][0]})
    assert load_detector(str(path))[1]["classes"] == ["red", "blue"]
    env = gym.make("roboloop/PushCube-v0", obs_mode="rgb+depth", image_size=24, horizon=3)
    wrapped = PerceptionWrapper(env, make_perception({"name": "detector", "checkpoint": str(path)}))
    obs, _ = wrapped.reset(seed=0)
    assert set(obs) == {"boxes", "box_scores", "proprio"} and wrapped.observation_space.contains(obs)
    wrapped.close()
    with pytest.raises(ConfigError, match="trained on 24x24 images but the env renders 32x32"):
        PerceptionWrapper(gym.make("roboloop/PushCube-v0", obs_mode="rgb+depth", image_size=32),
                          make_perception({"name": "detector", "checkpoint": str(path)}))


def test_instance_boxes_keep_the_objects_that_are_seen() -> None:
    K = intrinsics(45.0, 64, 64)
    T = look_at((0.0, 0.0, 0.8), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0))
    square = np.array([[x, y, 0.0] for x in (-0.02, 0.02) for y in (-0.02, 0.02)])
    outlines = np.stack([square + (0.1, 0.0, 0.0), square + (-0.1, 0.0, 0.0), square + (5.0, 0.0, 0.0)])
    seg = np.zeros((64, 64), np.uint8)
    for outline, label in zip(outlines[:2], (3, 2), strict=True):  # the second is covered by label 2
        (x0, y0), (x1, y1) = project(outline, K, T).min(axis=0), project(outline, K, T).max(axis=0)
        seg[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))] = label
    boxes = instance_boxes(outlines, K, T, seg, label_id=3)
    # one box: the first square's projection; the covered one and the one outside the image are dropped
    uv = project(outlines[0], K, T)
    np.testing.assert_allclose(boxes, [np.r_[uv.min(0), uv.max(0)]], rtol=1e-6)


def test_detector_truth_boxes_each_instance_of_a_many_object_label() -> None:
    seg = np.zeros((16, 16), np.uint8)
    seg[1:4, 1:4] = seg[10:13, 10:13] = 2  # two pucks share label 2
    seg[6:9, 1:5] = 1
    det = Detector(["pusher", "particle"], [1, 2], ImageNormalization(0.0, 1.0), (4, 4, 4),
                   instance_label_id=2)
    inst = np.array([[1, 1, 4, 4], [10, 10, 13, 13], [np.nan] * 4], np.float32)  # NaN: a puck not seen
    boxes, cls, hidden = det.truth(seg, inst)
    np.testing.assert_array_equal(boxes, [[1, 6, 5, 9], [1, 1, 4, 4], [10, 10, 13, 13]])
    assert cls.tolist() == [0, 1, 1] and not hidden.any()
    heat, _, mask = det.targets(seg, 1.0, inst)
    assert mask.sum() == 3 and (heat[1] == 1.0).sum() == 2  # one peak per puck, not one for the group
    with pytest.raises(ConfigError, match="instance_boxes"):
        det.truth(seg)


def test_mostly_hidden_objects_are_flagged_and_not_trained_on() -> None:
    seg = np.zeros((16, 16), np.uint8)
    seg[1:5, 1:5] = 1  # 16 px: fully seen
    seg[8, 8:10] = 2  # 2 px of an object whose full area is 16 px: mostly hidden
    det = Detector(["a", "b"], [1, 2], ImageNormalization(0.0, 1.0), (4, 4, 4), full_areas=[16.0, 16.0],
                   min_visible=0.25)
    boxes, cls, hidden = det.truth(seg)
    assert cls.tolist() == [0, 1] and hidden.tolist() == [False, True]
    heat, _, mask = det.targets(seg, 1.0)
    assert mask.sum() == 1 and heat[1].max() == 0  # no peak for the sliver
    off = Detector(["a", "b"], [1, 2], ImageNormalization(0.0, 1.0), (4, 4, 4), full_areas=[16.0, 16.0])
    assert not off.truth(seg)[2].any()  # min_visible = 0: every box counts


def test_training_keeps_the_weights_of_the_best_validation() -> None:
    net = torch.nn.Linear(1, 1, bias=False)
    scores = iter([0.2, 0.9, 0.5])  # validation after steps 2, 4, 6: the best is at step 4
    weights = []

    def validate() -> dict:
        weights.append(net.weight.item())
        return {"score": next(scores)}

    config = HeatmapTrainConfig(steps=6, batch_size=1, lr=0.1, eval_every=2)
    loss = lambda batch: (net(torch.ones(1, 1)) - 5.0).pow(2).sum()  # noqa: E731
    history = fit_loop(net, config, loss, 1, validate, None, False, "t", select="score")
    assert [h.get("selected", False) for h in history] == [False, True, False]
    assert net.weight.item() == weights[1] != weights[2]


def test_heatmap_net_shapes() -> None:
    net = HeatmapNet(4, 3, (8, 8, 8))
    assert net(torch.zeros(2, 4, 32, 48)).shape == (2, 3, 16, 24)
    with pytest.raises(ConfigError, match="divisible by 8"):
        net(torch.zeros(1, 4, 30, 30))


def test_keypoint_perception_in_an_env(tmp_path) -> None:
    """An untrained PushCube keypoint model: named features, the wrapper's space, stored camera params."""
    env = gym.make("roboloop/PushCube-v0", obs_mode="rgb+depth", image_size=48, horizon=3)
    env.reset(seed=0)
    p = env.unwrapped.camera_params("top")
    stored = {"intrinsics": p.intrinsics.tolist(), "extrinsics": p.extrinsics.tolist(), "width": 48,
              "height": 48, "near": p.near, "far": p.far}
    torch.manual_seed(0)
    model = KeypointModel(KEYPOINT_NAMES, ImageNormalization(0.8, 0.05), (8, 8, 8))
    path = tmp_path / "kp.pt"
    torch.save(model.checkpoint({"image_size": 48, "camera": "top", "camera_params": stored}), path)
    wrapped = PerceptionWrapper(env, make_perception({"name": "keypoints", "checkpoint": str(path)}))
    obs, _ = wrapped.reset(seed=1)
    assert {"keypoints_px", "keypoints_world", "cube_top_keypoint", "pusher_tip_keypoint", "goal_keypoint",
            "proprio"} == set(obs)
    assert wrapped.observation_space.contains(obs)
    wrapped.close()
