"""The adversarial stage's discriminators and losses: shapes, the hinge values, and where the
gradients go."""

from __future__ import annotations

import pytest
import torch

from melodex_studio.training.discriminators import (
    DiscriminatorConfig,
    Discriminators,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)


def _tiny() -> Discriminators:
    torch.manual_seed(0)
    return Discriminators(DiscriminatorConfig.tiny())


def test_one_output_per_discriminator_with_its_feature_maps() -> None:
    discriminators = _tiny()
    audio = torch.randn(2, 4001)  # not a multiple of any period: padded, not cut
    outputs = discriminators(audio)
    config = DiscriminatorConfig.tiny()
    assert len(outputs) == len(config.periods) + len(config.resolutions)
    for logits, features in outputs:
        assert logits.shape[0] == 2 and logits.shape[1] > 0
        assert len(features) == 5 and all(f.shape[0] == 2 for f in features)
        assert torch.isfinite(logits).all()
    # A period discriminator folds the audio into rows of its period.
    assert outputs[1][1][0].shape[-1] == config.periods[1]


def test_hinge_losses_have_their_margins() -> None:
    def out(value: float) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
        return [(torch.full((1, 3), value), [])]

    assert discriminator_loss(out(2.0), out(-2.0)).item() == 0.0  # both beyond the margin
    assert discriminator_loss(out(0.0), out(0.0)).item() == pytest.approx(2.0)
    assert discriminator_loss(out(0.5), out(-0.5)).item() == pytest.approx(1.0)
    assert generator_loss(out(1.5)).item() == 0.0
    assert generator_loss(out(-1.0)).item() == pytest.approx(2.0)


def test_feature_matching_pulls_only_the_generated_side() -> None:
    discriminators = _tiny()
    real_audio, fake_audio = torch.randn(1, 4096), torch.randn(1, 4096, requires_grad=True)
    real = discriminators(real_audio)
    assert feature_matching_loss(real, real).item() == 0.0
    loss = feature_matching_loss(real, discriminators(fake_audio))
    assert loss.item() > 0.0
    loss.backward()
    assert fake_audio.grad is not None and fake_audio.grad.abs().sum() > 0
    # The real maps are targets: the gradient reaching the weights comes from the fake pass
    # alone, so it equals the gradient of the loss against fixed real maps.
    grads = [p.grad.clone() for p in discriminators.parameters() if p.grad is not None]
    discriminators.zero_grad()
    fixed = [(logits.detach(), [f.detach() for f in maps]) for logits, maps in real]
    feature_matching_loss(fixed, discriminators(fake_audio.detach())).backward()
    again = [p.grad for p in discriminators.parameters() if p.grad is not None]
    assert len(grads) == len(again)
    assert all(torch.allclose(a, b) for a, b in zip(grads, again, strict=True))


def test_same_seed_same_discriminators() -> None:
    a, b = _tiny(), _tiny()
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                  b.state_dict().values(), strict=True))
