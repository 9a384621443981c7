"""Learned dynamics models and planners (MPC). Not built yet: see the open issues."""
