"""Robots shared by several tasks, described once (kinematics, limits, gains) for every backend."""
