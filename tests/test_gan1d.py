"""Layer shapes, sizes and initialisation of the GAN1D networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specgan_gui.models.gan1d import (
    DENSE_INIT_STD,
    Discriminator,
    GANArchitecture,
    Generator,
    PairMaxPool1d,
    count_parameters,
    layer_flops,
    load_numpy_state,
    pad_array,
    pad_spectra,
    state_to_numpy,
    training_batch_flops,
    training_epoch_flops,
)

REFERENCE_POINTS = 1868


def record_shapes(module: torch.nn.Module, names: list[str]) -> list[tuple[str, str, tuple]]:
    """Register hooks that log (layer, "in"/"out", shape without batch) per call."""
    log: list[tuple[str, str, tuple]] = []
    for name in names:
        layer = getattr(module, name)

        def hook(_layer, inputs, output, name=name):
            log.append((name, "in", tuple(inputs[0].shape[1:])))
            log.append((name, "out", tuple(output.shape[1:])))

        layer.register_forward_hook(hook)
    return log


@pytest.fixture(scope="module")
def reference_networks():
    architecture = GANArchitecture(REFERENCE_POINTS)
    torch.manual_seed(0)
    return architecture, Generator(architecture), Discriminator(architecture)


def test_generator_layer_shapes(reference_networks):
    architecture, generator, _ = reference_networks
    log = record_shapes(generator, ["dense1", "dense2", "upsample", "conv1", "conv2"])
    generator.fuse_upsampling = False  # run the layers one by one, as the design lists them
    try:
        with torch.no_grad():
            output = generator(torch.rand(2, architecture.code_length) * 2 - 1)
    finally:
        generator.fuse_upsampling = True
    outputs = [(name, shape) for name, kind, shape in log if kind == "out"]
    assert outputs == [
        ("dense1", (1024,)),
        ("dense2", (14944,)),
        ("upsample", (32, 934)),
        ("conv1", (64, 934)),
        ("upsample", (64, 1868)),
        ("conv2", (1, 1868)),
    ]
    # The reshape sits between dense2 and the first upsampling.
    first_upsample_input = next(s for n, k, s in log if n == "upsample" and k == "in")
    assert first_upsample_input == (32, 467)
    assert output.shape == (2, 1, 1868)
    assert float(output.abs().max()) <= 1.0  # tanh output


def test_discriminator_layer_shapes(reference_networks):
    _, _, discriminator = reference_networks
    log = record_shapes(discriminator, ["conv1", "pool", "conv2", "dense", "output"])
    with torch.no_grad():
        logits = discriminator(torch.rand(2, 1, REFERENCE_POINTS) * 2 - 1)
    outputs = [(name, shape) for name, kind, shape in log if kind == "out"]
    assert outputs == [
        ("conv1", (64, 1868)),
        ("pool", (64, 934)),
        ("conv2", (32, 934)),
        ("pool", (32, 467)),
        ("dense", (1024,)),
        ("output", (1,)),
    ]
    dense_input = next(s for n, k, s in log if n == "dense" and k == "in")
    assert dense_input == (14944,)  # the flattened (32, 467) tensor
    assert logits.shape == (2, 1)


def test_discriminator_features_shape(reference_networks):
    _, _, discriminator = reference_networks
    with torch.no_grad():
        features = discriminator.features(torch.zeros(3, 1, REFERENCE_POINTS))
    assert features.shape == (3, 1024)


def test_parameter_counts(reference_networks):
    _, generator, discriminator = reference_networks
    assert count_parameters(generator) == 15_427_425
    assert count_parameters(discriminator) == 15_311_137


def test_dense_init_std(reference_networks):
    _, generator, discriminator = reference_networks
    for layer in (generator.dense1, generator.dense2, discriminator.dense):
        weights = layer.weight.detach()
        assert abs(float(weights.std()) - DENSE_INIT_STD) < 0.002
        assert abs(float(weights.mean())) < 0.002
        assert float(layer.bias.detach().abs().max()) == 0.0
    # The 1024 output weights are few, so their spread is looser.
    assert abs(float(discriminator.output.weight.detach().std()) - DENSE_INIT_STD) < 0.01


def test_odd_length_pads_to_multiple_of_four():
    architecture = GANArchitecture(1841)
    assert architecture.padded_points == 1844
    assert architecture.reduced_points == 461

    spectra = torch.linspace(-1, 1, 2 * 1841).reshape(2, 1, 1841)
    padded = pad_spectra(spectra, architecture.padded_points)
    assert padded.shape == (2, 1, 1844)
    assert torch.equal(padded[..., :1841], spectra)
    assert torch.equal(padded[..., 1841:], spectra[..., -1:].expand(2, 1, 3))

    array = spectra[:, 0].numpy()
    padded_array = pad_array(array, architecture.padded_points)
    assert np.array_equal(padded_array, padded[:, 0].numpy())

    generator = Generator(architecture)
    discriminator = Discriminator(architecture)
    with torch.no_grad():
        generated = generator(torch.zeros(1, architecture.code_length))
        logits = discriminator(padded)
    assert generated.shape == (1, 1, 1844)
    assert logits.shape == (2, 1)


def test_pad_spectra_rejects_longer_input():
    with pytest.raises(ValueError, match="more than"):
        pad_spectra(torch.zeros(1, 1, 10), 8)


def test_widened_discriminator_first_conv():
    architecture = GANArchitecture(400, discriminator_filters=128)
    discriminator = Discriminator(architecture)
    assert discriminator.conv1.weight.shape == (128, 1, 3)
    assert discriminator.conv2.weight.shape == (32, 128, 3)
    log = record_shapes(discriminator, ["conv1"])
    with torch.no_grad():
        discriminator(torch.zeros(1, 1, 400))
    assert log[1] == ("conv1", "out", (128, 400))


def test_architecture_dict_round_trip():
    architecture = GANArchitecture(1841, code_length=200, discriminator_filters=128)
    restored = GANArchitecture.from_dict({**architecture.to_dict(), "unknown": 1})
    assert restored == architecture


@pytest.mark.parametrize("values", [{"n_points": 4}, {"n_points": 100, "code_length": 0}])
def test_architecture_rejects_invalid_sizes(values):
    with pytest.raises(ValueError):
        GANArchitecture(**values)


def test_numpy_state_round_trip():
    architecture = GANArchitecture(64, hidden_units=16)
    source = Discriminator(architecture)
    target = Discriminator(architecture)
    load_numpy_state(target, state_to_numpy(source))
    spectra = torch.rand(4, 1, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(source(spectra), target(spectra))


def test_numpy_state_rejects_other_shape():
    small = Discriminator(GANArchitecture(64, hidden_units=16))
    wide = Discriminator(GANArchitecture(64, hidden_units=16, discriminator_filters=128))
    with pytest.raises(ValueError, match="shape"):
        load_numpy_state(small, state_to_numpy(wide))


# A small architecture counted by hand: 8 points (4 after one pooling, 2 after
# two), code length 2, 2 generator filters, 3 discriminator filters, 4 hidden
# units, so the Dense layers see 2 * 32 = 64 values.
SMALL_FLOPS = GANArchitecture(8, code_length=2, generator_filters=2, discriminator_filters=3,
                              hidden_units=4)


def test_layer_flops_hand_count():
    counts = layer_flops(SMALL_FLOPS)
    assert counts["generator"] == {
        "dense1": 2 * 2 * 4,  # 16
        "dense2": 2 * 4 * 64,  # 512
        "conv1": 2 * 32 * 3 * 2 * 4,  # 1536: 32 channels in, kernel 3, 2 out, 4 points
        "conv2": 2 * 2 * 3 * 1 * 8,  # 96
    }
    assert counts["discriminator"] == {
        "conv1": 2 * 1 * 3 * 3 * 8,  # 144
        "conv2": 2 * 3 * 3 * 32 * 4,  # 2304
        "dense": 2 * 64 * 4,  # 512
        "output": 2 * 4,  # 8
    }


def test_training_batch_flops_hand_count():
    generator, discriminator = 2160, 2968  # sums of the layer counts above
    # Discriminator step on 5 real and 5 generated spectra: generate, then
    # forward, weight gradients and input gradients of all but conv1 (144).
    discriminator_step = 5 * generator + 10 * (discriminator * 2 + discriminator - 144)
    # Generator step: discriminator forward and input gradients, generator
    # weight gradients and input gradients of all but dense1 (16).
    generator_step = 5 * (discriminator * 2 + generator * 2 - 16)
    assert training_batch_flops(SMALL_FLOPS, 5) == discriminator_step + generator_step
    assert training_batch_flops(SMALL_FLOPS, 5, discriminator_steps=2) == (
        2 * discriminator_step + generator_step
    )
    # Generating the batch again and discriminator weight gradients.
    assert training_batch_flops(SMALL_FLOPS, 5, reuse_generated=False) == (
        discriminator_step + generator_step + 5 * (generator + discriminator)
    )


def test_training_epoch_flops_counts_last_batch():
    expected = 2 * training_batch_flops(SMALL_FLOPS, 5) + training_batch_flops(SMALL_FLOPS, 3)
    assert training_epoch_flops(SMALL_FLOPS, 13, 5) == expected
    assert training_epoch_flops(SMALL_FLOPS, 10, 5) == 2 * training_batch_flops(SMALL_FLOPS, 5)


def test_reference_epoch_flops():
    architecture = GANArchitecture(REFERENCE_POINTS)
    assert training_epoch_flops(architecture, 40, 40) == 18_791_485_440
    assert training_epoch_flops(architecture, 40, 40, reuse_generated=False) == 22_223_728_640


def _reference_features(discriminator: Discriminator, spectra: torch.Tensor) -> torch.Tensor:
    """The reference order of the design: tanh, then nn.MaxPool1d, twice."""
    pool = torch.nn.MaxPool1d(2)
    x = pool(torch.tanh(discriminator.conv1(spectra)))
    x = pool(torch.tanh(discriminator.conv2(x)))
    return torch.tanh(discriminator.dense(x.flatten(1)))


@pytest.mark.parametrize("shape", [(3, 5, 12), (2, 64, 1868)])
def test_pair_max_pool_equals_max_pool_with_ties(shape):
    generator = torch.Generator().manual_seed(1)
    values = torch.randn(*shape, generator=generator)
    # Exact ties, and a run of equal values as padding by repetition makes.
    values[..., 2:6] = 0.25
    values[..., -4:] = values[..., -5:-4]
    upstream = torch.randn(*shape[:-1], shape[-1] // 2, generator=generator)

    ours_input = values.clone().requires_grad_()
    ours = PairMaxPool1d()(ours_input)
    ours.backward(upstream)
    theirs_input = values.clone().requires_grad_()
    theirs = torch.nn.MaxPool1d(2)(theirs_input)
    theirs.backward(upstream)

    assert torch.equal(ours, theirs)
    assert torch.equal(ours_input.grad, theirs_input.grad)
    # Exactly one point of each pair receives the upstream gradient.
    assert torch.count_nonzero(ours_input.grad) == torch.count_nonzero(upstream)


def test_discriminator_matches_reference_layer_order(reference_networks):
    """Pooling before tanh gives the same features and gradients as tanh before pooling."""
    _, _, discriminator = reference_networks
    generator = torch.Generator().manual_seed(2)
    spectra = torch.rand(4, 1, REFERENCE_POINTS, generator=generator) * 2 - 1
    upstream = torch.randn(4, 1024, generator=generator)

    results = []
    for features in (discriminator.features, lambda x: _reference_features(discriminator, x)):
        inputs = spectra.clone().requires_grad_()
        discriminator.zero_grad(set_to_none=True)
        output = features(inputs)
        output.backward(upstream)
        grads = [p.grad.clone() for p in discriminator.parameters() if p.grad is not None]
        results.append((output.detach(), inputs.grad, grads))
    (ours, ours_input_grad, ours_grads), (theirs, theirs_input_grad, theirs_grads) = results
    assert torch.equal(ours, theirs)
    assert torch.equal(ours_input_grad, theirs_input_grad)
    assert len(ours_grads) == len(theirs_grads) == 6
    for mine, reference in zip(ours_grads, theirs_grads):
        assert torch.equal(mine, reference)


def test_fused_upsampling_matches_layer_by_layer(reference_networks):
    """The generator's fused upsampling and convolution equal the design's layers."""
    architecture, generator, _ = reference_networks
    code = torch.rand(5, architecture.code_length, generator=torch.Generator().manual_seed(3))
    results = []
    for fused in (True, False):
        generator.fuse_upsampling = fused
        generator.zero_grad(set_to_none=True)
        inputs = code.clone().requires_grad_()
        output = generator(inputs)
        (output * torch.linspace(-1, 1, output.shape[-1])).sum().backward()
        grads = {name: p.grad.clone() for name, p in generator.named_parameters()}
        results.append((output.detach(), inputs.grad, grads))
    generator.fuse_upsampling = True
    (fused, fused_input_grad, fused_grads), (layered, layered_input_grad, layered_grads) = results
    assert fused.shape == (5, 1, REFERENCE_POINTS)
    torch.testing.assert_close(fused, layered, rtol=0, atol=1e-5)
    input_scale = float(layered_input_grad.abs().max())
    torch.testing.assert_close(
        fused_input_grad, layered_input_grad, rtol=0, atol=1e-4 * input_scale
    )
    assert set(fused_grads) == set(layered_grads)
    for name, grad in fused_grads.items():
        scale = float(layered_grads[name].abs().max())
        torch.testing.assert_close(grad, layered_grads[name], rtol=0, atol=1e-4 * scale)
