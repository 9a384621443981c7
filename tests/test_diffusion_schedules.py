"""The noise schedules and samplers: closed forms, determinism, and diffusers' schedulers as reference."""

import diffusers
import pytest
import torch

from agents.diffusion.schedules import NoiseSchedule, betas_for, flow_interpolate, flow_times


@pytest.mark.parametrize("schedule, name", [("linear", "linear"), ("cosine", "squaredcos_cap_v2")])
def test_betas_match_diffusers(schedule, name):
    ref = diffusers.DDPMScheduler(num_train_timesteps=100, beta_schedule=name).betas.double()
    assert torch.allclose(betas_for(schedule, 100), ref, atol=1e-6)


def test_forward_noising_is_the_closed_form():
    sched = NoiseSchedule("cosine", 100, "epsilon")
    x0, eps = torch.randn(4, 16, 2), torch.randn(4, 16, 2)
    t = torch.tensor([0, 10, 50, 99])
    abar = torch.cumprod(1 - sched.betas, 0)[t].float().reshape(-1, 1, 1)
    assert torch.allclose(sched.add_noise(x0, eps, t), abar.sqrt() * x0 + (1 - abar).sqrt() * eps, atol=1e-6)
    ref = diffusers.DDPMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2")
    assert torch.allclose(sched.add_noise(x0, eps, t), ref.add_noise(x0, eps, t), atol=1e-5)


def _fake_denoiser(x, t):
    return 0.3 * x + 0.01 * t  # any smooth function of (x, t) exercises the update formulas


@pytest.mark.parametrize("prediction", ["epsilon", "sample"])
@pytest.mark.parametrize("steps", [100, 10, 4])
def test_ddim_matches_diffusers(prediction, steps):
    ours = NoiseSchedule("cosine", 100, prediction, clip_sample=True)
    ref = diffusers.DDIMScheduler(num_train_timesteps=100, beta_schedule="squaredcos_cap_v2",
                                  prediction_type=prediction, clip_sample=True, set_alpha_to_one=True)
    ref.set_timesteps(steps)
    assert ours.timesteps(steps) == ref.timesteps.tolist()
    x = y = torch.randn(3, 16, 2, generator=torch.Generator().manual_seed(0))
    for t in ours.timesteps(steps):
        x = ours.ddim_step(x, _fake_denoiser(x, t), t, t - 100 // steps, 0.0, None)
        y = ref.step(_fake_denoiser(y, t), t, y, eta=0.0).prev_sample
    assert torch.allclose(x, y, atol=1e-5)


@pytest.mark.parametrize("prediction", ["epsilon", "sample"])
def test_ddpm_matches_diffusers_with_the_same_noise(prediction):
    ours = NoiseSchedule("linear", 100, prediction, clip_sample=True)
    ref = diffusers.DDPMScheduler(num_train_timesteps=100, beta_schedule="linear", prediction_type=prediction,
                                  clip_sample=True, variance_type="fixed_small")
    ref.set_timesteps(100)
    x = y = torch.randn(2, 8, 3, generator=torch.Generator().manual_seed(1))
    for t in ours.timesteps(100):
        x = ours.ddpm_step(x, _fake_denoiser(x, t), t, t - 1, torch.Generator().manual_seed(t))
        y = ref.step(_fake_denoiser(y, t), t, y, generator=torch.Generator().manual_seed(t)).prev_sample
    assert torch.allclose(x, y, atol=1e-4)


def test_ddim_with_eta_zero_is_deterministic_and_eta_one_is_not():
    sched = NoiseSchedule("cosine", 100, "epsilon")
    x = torch.randn(2, 4, 2)
    runs = [sched.ddim_step(x, _fake_denoiser(x, 50), 50, 40, 0.0, torch.Generator().manual_seed(s))
            for s in (0, 1)]
    assert torch.equal(runs[0], runs[1])
    noisy = [sched.ddim_step(x, _fake_denoiser(x, 50), 50, 40, 1.0, torch.Generator().manual_seed(s))
             for s in (0, 1)]
    assert not torch.equal(noisy[0], noisy[1])


def test_flow_interpolation_endpoints_and_velocity():
    x0, eps = torch.randn(2, 4, 2), torch.randn(2, 4, 2)
    at0, v = flow_interpolate(x0, eps, torch.zeros(2))
    at1, _ = flow_interpolate(x0, eps, torch.ones(2))
    assert torch.equal(at0, x0) and torch.equal(at1, eps) and torch.equal(v, eps - x0)
    # Euler with the exact velocity goes from the noise to the data in any number of steps
    for steps in (1, 3):
        x, grid = eps.clone(), flow_times(steps)
        for s, s_next in zip(grid[:-1], grid[1:], strict=True):
            x = x + (s_next - s) * (eps - x0)
        assert torch.allclose(x, x0, atol=1e-6)


def test_bad_schedule_names_are_refused():
    with pytest.raises(ValueError, match="cosine"):
        betas_for("quadratic", 10)
    with pytest.raises(ValueError, match="epsilon"):
        NoiseSchedule("cosine", 10, "v_prediction")
    with pytest.raises(ValueError, match=r"\[1, 10\]"):
        NoiseSchedule("cosine", 10, "epsilon").timesteps(20)
