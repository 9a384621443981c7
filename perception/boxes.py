"""Boxes: IoU, non-maximum suppression (written once, here) and average precision.

Boxes are (M, 4) ``x0, y0, x1, y1`` in pixels, ``x1 > x0`` and ``y1 > y0``.
"""

from collections.abc import Sequence

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union (M, N) of every box in ``a`` (M, 4) with every box in ``b`` (N, 4)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=-1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the kept boxes, best score first.

    Repeatedly keep the best remaining box and drop every remaining box whose IoU with it exceeds
    ``iou_threshold``. Ties in score keep the lower index first (a stable sort).
    """
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    keep = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(int(best))
        order = rest[box_iou(boxes[best][None], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, np.int64)


def average_precision(scores: np.ndarray, matched: np.ndarray, positives: int) -> float:
    """Area under the interpolated precision-recall curve (all points, as PASCAL VOC 2010+).

    ``scores`` and ``matched`` (bool: a true positive) describe every detection of one class over
    the whole test set; ``positives`` counts its ground-truth boxes.
    """
    if positives == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.asarray(matched, bool)[order]
    cum_tp, cum_fp = np.cumsum(tp), np.cumsum(~tp)
    recall = np.concatenate([[0.0], cum_tp / positives, [1.0]])
    precision = np.concatenate([[1.0], cum_tp / np.maximum(cum_tp + cum_fp, 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # the interpolated envelope
    steps = np.nonzero(np.diff(recall))[0]
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))


def mean_average_precision(detections: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
                           truths: Sequence[tuple[np.ndarray, np.ndarray]], classes: int,
                           iou_threshold: float = 0.5) -> dict[str, object]:
    """Mean average precision over ``classes`` at ``iou_threshold``.

    ``detections[i]`` = (boxes (M, 4), scores (M,), class ids (M,)) of image ``i``; ``truths[i]`` =
    (boxes (N, 4), class ids (N,)) or (boxes, class ids, ignored (N,) bool). A detection is a true
    positive when it overlaps an unmatched ground-truth box of its class by more than the threshold
    (best score first). As in PASCAL VOC's "difficult" boxes, an ignored box is not counted as a
    positive, and a detection whose best match is an ignored box is neither true nor false.
    """
    per_class = []
    for c in range(classes):
        scores, matched, positives = [], [], 0
        for (boxes, s, ids), truth in zip(detections, truths, strict=True):
            gt, gt_ids = truth[0], truth[1]
            ignored = truth[2] if len(truth) > 2 else np.zeros(len(gt_ids), bool)
            d, g, skip = boxes[ids == c], gt[gt_ids == c], ignored[gt_ids == c]
            positives += int((~skip).sum())
            used = np.zeros(len(g), bool)
            for k in np.argsort(-s[ids == c], kind="stable"):
                iou = box_iou(d[k][None], g)[0] if len(g) else np.zeros(0)
                iou[used] = -1
                hit = len(iou) and iou.max() > iou_threshold
                if hit and skip[int(iou.argmax())]:
                    continue  # matched a mostly hidden object: neither right nor wrong
                if hit:
                    used[int(iou.argmax())] = True
                scores.append(s[ids == c][k])
                matched.append(bool(hit))
        per_class.append(average_precision(np.asarray(scores), np.asarray(matched, bool), positives))
    valid = [ap for ap in per_class if np.isfinite(ap)]
    return {"map": float(np.mean(valid)) if valid else float("nan"), "ap": per_class}
