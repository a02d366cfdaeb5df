"""On-device multi-person pose estimation with MediaPipe BlazePose weights and our own numpy code.

Two stages, as in MediaPipe: a 224x224 person detector on the whole frame, then the
256x256 ``pose_landmark_full`` model on a rotated crop per person, giving 33 landmarks in
MediaPipe's order. :class:`PoseTracker` derives each next crop from the current
landmarks and runs the detector only now and then, which is what makes 4 people per
camera affordable on a 2-core CPU. Weights come from ``python -m models.pose.weights``.
"""

from models.pose.estimator import Pose, PoseEstimator, TrackedPose
from models.pose.skeleton import LANDMARK_NAMES, POSE_CONNECTIONS, PoseLandmark
from models.pose.tracker import PoseTracker
from models.pose.weights import PoseModelsMissing, model_paths

__all__ = [
    "LANDMARK_NAMES",
    "POSE_CONNECTIONS",
    "Pose",
    "PoseEstimator",
    "PoseLandmark",
    "PoseModelsMissing",
    "PoseTracker",
    "TrackedPose",
    "model_paths",
]
