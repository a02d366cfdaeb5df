"""Synthetic media for the demo classroom (no hardware, no real footage of children).

``render_exercise_video`` writes a video of a puppet doing squats and jumping jacks plus a
JSON ground truth, so a camera station can run from a file in ``classroom demo``.
"""

from appliance.demo_media.exerciser import DEFAULT_PLAN, DemoMediaError, Segment, render_exercise_video

__all__ = ["DEFAULT_PLAN", "DemoMediaError", "Segment", "render_exercise_video"]
