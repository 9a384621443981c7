"""Learned dynamics and planning: models of p(s' | s, a), batched planners, MPC and the model-based loop.

- ``dynamics``: a deterministic MLP and a probabilistic ensemble (PETS) over the state vector.
- ``graph``: a graph network over the pusher and the particles (PushParticles).
- ``planners``: random shooting, CEM and MPPI, batched in torch.
- ``objectives``: a sequence's return under a learned model or under the simulator itself.
- ``mpc``: receding-horizon control; ``SimulatorPlanner`` plans in the env's own physics.
- ``agent`` / ``training``: the ``mpc`` Learner and its collect -> fit -> plan loop.
- ``keypoint_dynamics``: the state model over PushCube's keypoint state, and its MPC agent.
- ``pixel_dynamics`` / ``pixel_mpc``: a recurrent latent model of camera images, and MPC in its latent.
"""
