"""Online reinforcement learning through stable-baselines3: DQN, SAC and PPO as roboloop learners.

Import the agents from ``agents.rl.agent`` (the registry does, on first use); this package
imports nothing itself, so ``import agents`` stays free of SB3.
"""
