"""Hard-coded cut lines for the demo exerciser puppet.

The demo classroom has no footage of children exercising, so ``exerciser`` animates a
"paper doll" cut from a real photograph: ``messi5.jpg`` from Debian's ``opencv-doc``
package (a footballer, full body). The numbers below were measured ONCE at development
time with MediaPipe Pose (landmarks + segmentation mask, model_complexity=1) on that
photo and are frozen here, so generating the video needs neither MediaPipe nor any
download, and the photo itself is read from the Debian package at run time instead of
being committed.

Coordinates are pixels of the 548x342 source photo, x right, y down.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_DIR = "/usr/share/doc/opencv-doc/examples/data"
SOURCE_FILE = "messi5.jpg"
SOURCE_SIZE = (548, 342)  # width, height; checked at load so a different photo fails loudly

# Outline of the person (MediaPipe segmentation mask > 0.5, largest blob, approxPolyDP 0.8 px).
# fmt: off
PERSON_OUTLINE: tuple[tuple[int, int], ...] = (
    (69, 90), (69, 94), (76, 101), (79, 99), (80, 100), (86, 100), (96, 105), (103, 106), (111, 111),
    (120, 120), (129, 125), (141, 127), (156, 133), (162, 132), (167, 137), (168, 143), (172, 146),
    (182, 147), (183, 145), (185, 145), (192, 148), (193, 150), (193, 159), (196, 172), (200, 178),
    (201, 183), (204, 189), (207, 192), (208, 196), (213, 197), (214, 201), (219, 209), (220, 214),
    (218, 216), (216, 216), (215, 218), (217, 223), (222, 225), (227, 235), (227, 238), (224, 239),
    (224, 249), (226, 252), (227, 258), (224, 263), (223, 270), (220, 276), (221, 290), (223, 294),
    (232, 298), (241, 308), (246, 310), (251, 314), (256, 315), (260, 319), (260, 324), (263, 327),
    (259, 330), (256, 330), (255, 329), (256, 326), (254, 325), (253, 327), (254, 331), (269, 333),
    (276, 329), (277, 332), (279, 333), (280, 332), (290, 331), (298, 326), (303, 326), (304, 327),
    (302, 328), (302, 330), (306, 329), (305, 326), (306, 323), (302, 318), (300, 318), (287, 308),
    (277, 303), (262, 290), (262, 288), (265, 285), (272, 284), (276, 279), (281, 276), (282, 274),
    (281, 272), (284, 271), (279, 270), (279, 264), (281, 262), (289, 263), (298, 267), (310, 266),
    (323, 271), (331, 270), (337, 263), (342, 264), (351, 264), (352, 263), (360, 263), (361, 264),
    (370, 263), (372, 264), (373, 263), (378, 263), (383, 265), (391, 265), (394, 267), (402, 268),
    (420, 276), (423, 276), (442, 287), (450, 288), (455, 285), (456, 282), (454, 274), (444, 264),
    (424, 260), (413, 254), (402, 253), (400, 251), (383, 243), (374, 242), (368, 237), (365, 236),
    (362, 238), (348, 237), (343, 235), (332, 226), (318, 221), (309, 216), (305, 212), (302, 212),
    (298, 209), (293, 196), (293, 191), (283, 174), (284, 169), (280, 154), (280, 151), (285, 147),
    (286, 148), (295, 148), (296, 147), (300, 148), (314, 156), (319, 156), (325, 158), (337, 165),
    (342, 166), (352, 173), (367, 178), (369, 172), (372, 169), (377, 168), (378, 166), (373, 159),
    (367, 159), (364, 155), (350, 160), (342, 159), (334, 154), (323, 143), (317, 139), (311, 137),
    (307, 133), (300, 132), (291, 126), (289, 121), (285, 117), (278, 114), (273, 114), (272, 113),
    (270, 114), (259, 113), (256, 109), (255, 102), (262, 95), (262, 86), (260, 78), (250, 62),
    (236, 61), (233, 64), (226, 67), (222, 71), (219, 72), (215, 76), (213, 82), (208, 86), (206, 97),
    (210, 104), (210, 110), (208, 112), (196, 113), (188, 119), (161, 118), (155, 115), (152, 112),
    (147, 111), (144, 109), (121, 106), (106, 98), (102, 97), (93, 89), (72, 88),
)
# fmt: on

# MediaPipe landmarks of the photo that the cuts hang on (index: BlazePose topology).
R_SHOULDER = (201.9, 137.3)  # 12 (the player's right = image left)
L_SHOULDER = (271.2, 128.1)  # 11
R_ELBOW = (152.2, 122.1)  # 14
L_ELBOW = (308.0, 148.3)  # 13
R_WRIST = (103.4, 101.9)  # 16
L_WRIST = (348.6, 166.4)  # 15
L_HIP = (290.6, 224.7)  # 23
R_HIP = (251.7, 243.8)  # 24
L_KNEE = (340.5, 246.2)  # 25
L_ANKLE = (406.1, 261.8)  # 27
CHIN = (247.0, 128.0)  # below mouth landmarks 9/10
CROWN = (239.0, 60.0)  # top of the hair in the mask
SHOULDER_MID = ((R_SHOULDER[0] + L_SHOULDER[0]) / 2, (R_SHOULDER[1] + L_SHOULDER[1]) / 2)
HIP_MID = ((R_HIP[0] + L_HIP[0]) / 2, (R_HIP[1] + L_HIP[1]) / 2)


@dataclass(frozen=True)
class PartCut:
    """One textured body part: a band of the photo around a bone, clipped to the outline.

    ``start``/``end`` are the bone's joints in the photo; the band reaches ``ext_start``
    before and ``ext_end`` past them along the bone and ``half_width`` either side, with
    round ends where ``round_ends`` (limbs overlap at joints like real ones, so the puppet
    shows no gaps when a joint bends).
    """

    name: str
    start: tuple[float, float]
    end: tuple[float, float]
    half_width: float
    ext_start: float
    ext_end: float
    round_ends: bool = True


# Only the player's left leg is fully visible and straight enough (his right one is folded
# under him next to the ball), so both puppet legs use it; the right one is mirrored.
PART_CUTS: dict[str, PartCut] = {
    "head": PartCut("head", CHIN, CROWN, 31.0, 4.0, 4.0, round_ends=False),
    "torso": PartCut("torso", SHOULDER_MID, HIP_MID, 36.0, 14.0, 12.0, round_ends=False),
    "r_upper_arm": PartCut("r_upper_arm", R_SHOULDER, R_ELBOW, 12.0, 6.0, 9.0),
    "r_forearm": PartCut("r_forearm", R_ELBOW, R_WRIST, 11.0, 6.0, 30.0),
    "l_upper_arm": PartCut("l_upper_arm", L_SHOULDER, L_ELBOW, 12.0, 6.0, 9.0),
    "l_forearm": PartCut("l_forearm", L_ELBOW, L_WRIST, 11.0, 6.0, 30.0),
    "thigh": PartCut("thigh", L_HIP, L_KNEE, 19.0, 10.0, 10.0),
    "shin": PartCut("shin", L_KNEE, L_ANKLE, 13.0, 8.0, 26.0),
}
