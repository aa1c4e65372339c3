"""Transfer networks: trunk loading, freezing, seeding, target coding and fitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import SettingsError
from specgan_gui.models.gan1d import Discriminator, GANArchitecture, state_to_numpy
from specgan_gui.training.transfer import (
    TargetCoding,
    TransferNetwork,
    TransferSettings,
    build_network,
    fit_network,
    network_inputs,
    network_outputs,
    train_network,
)

TRUNK_KEYS = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
              "dense.weight", "dense.bias")


@pytest.fixture(scope="module")
def glucose_data(fermentation):
    """Fermentation spectra cut to 950-1550 cm-1 and scaled, with glucose in g/L."""
    pipeline = Pipeline.default(crop=(950, 1550))
    spectra = pipeline.fit_transform(fermentation.axis, fermentation.spectra)
    return spectra, fermentation.references["glucose"].to_numpy(dtype=float)


def trained_discriminator_state(architecture: GANArchitecture) -> dict[str, np.ndarray]:
    """Return a discriminator state after a few optimiser steps on random inputs.

    The steps move the weights away from any fresh initialisation, so a
    copied trunk differs from a network that was merely seeded alike.
    """
    torch.manual_seed(123)
    discriminator = Discriminator(architecture)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=1e-2)
    inputs = torch.rand(8, 1, architecture.padded_points) * 2 - 1
    for _ in range(3):
        optimizer.zero_grad()
        loss = discriminator(inputs).pow(2).mean()
        loss.backward()
        optimizer.step()
    return state_to_numpy(discriminator)


def test_settings_round_trip():
    settings = TransferSettings(epochs=7, cv="kfold", n_folds=4, freeze_trunk=True)
    values = settings.to_dict()
    values["unknown_future_key"] = 1
    assert TransferSettings.from_dict(values) == settings


@pytest.mark.parametrize("values", [
    {"epochs": 0}, {"cv": "bootstrap"}, {"n_folds": 1}, {"learning_rate": -1.0},
    {"batch_size": 2.5}, {"pls_components": -1}, {"device": "tpu"},
])
def test_settings_reject_invalid(values):
    with pytest.raises(SettingsError):
        TransferSettings(**values)


@pytest.mark.parametrize("name, value, range_text", [
    ("repeats", 0, "from 1 to 100"),
    ("repeats", 1.5, "from 1 to 100"),
    ("patience", 0, "from 1 to"),
    ("head_units", -3, "from 0 to"),
    ("validation_fraction", 0.9, "from 0.05 to 0.5"),
    ("validation_fraction", "half", "from 0.05 to 0.5"),
])
def test_new_settings_name_field_value_range(name, value, range_text):
    with pytest.raises(SettingsError) as error:
        TransferSettings(**{name: value})
    message = str(error.value)
    assert name in message
    assert range_text in message
    assert f"got {value!r}" in message


def test_new_settings_defaults_and_round_trip():
    settings = TransferSettings(repeats=3, group_column=" day ", early_stopping=False,
                                validation_fraction=0.25, patience=5, head_units=16)
    assert settings.group_column == "day"
    assert TransferSettings.from_dict(settings.to_dict()) == settings
    defaults = TransferSettings()
    assert (defaults.repeats, defaults.group_column, defaults.early_stopping) == (1, "", True)
    assert (defaults.validation_fraction, defaults.patience, defaults.head_units) == (0.2, 20, 0)


def test_network_layer_names_match_discriminator():
    architecture = GANArchitecture(n_points=40, hidden_units=32)
    network = TransferNetwork(architecture, n_outputs=3)
    discriminator = Discriminator(architecture)
    own = network.state_dict()
    for key in TRUNK_KEYS:
        assert own[key].shape == discriminator.state_dict()[key].shape
    assert own["head.weight"].shape == (3, 32)
    assert torch.count_nonzero(own["head.bias"]) == 0


def test_load_trunk_copies_weights():
    architecture = GANArchitecture(n_points=40, hidden_units=32)
    state = trained_discriminator_state(architecture)
    network = build_network(architecture, 1, seed=0)
    head_before = network.head.weight.detach().clone()
    assert not np.array_equal(network.conv1.weight.detach().numpy(), state["conv1.weight"])

    network.load_trunk(state)
    for key in TRUNK_KEYS:
        np.testing.assert_array_equal(network.state_dict()[key].numpy(), state[key])
    assert torch.equal(network.head.weight, head_before)


def test_loaded_trunk_gives_discriminator_features():
    architecture = GANArchitecture(n_points=40, hidden_units=32)
    state = trained_discriminator_state(architecture)
    discriminator = Discriminator(architecture)
    discriminator.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    network = build_network(architecture, 2, seed=5, discriminator_state=state)
    inputs = torch.rand(4, 1, architecture.padded_points)
    with torch.no_grad():
        torch.testing.assert_close(network.features(inputs), discriminator.features(inputs))


def test_load_trunk_rejects_other_length():
    state = trained_discriminator_state(GANArchitecture(n_points=40, hidden_units=32))
    network = TransferNetwork(GANArchitecture(n_points=80, hidden_units=32), 1)
    with pytest.raises(SettingsError, match="dense.weight"):
        network.load_trunk(state)


def test_load_trunk_rejects_missing_weight():
    architecture = GANArchitecture(n_points=40, hidden_units=32)
    state = trained_discriminator_state(architecture)
    del state["conv2.bias"]
    with pytest.raises(SettingsError, match="conv2.bias"):
        TransferNetwork(architecture, 1).load_trunk(state)


def test_build_network_is_seeded():
    architecture = GANArchitecture(n_points=40, hidden_units=32)
    first = state_to_numpy(build_network(architecture, 1, seed=3))
    second = state_to_numpy(build_network(architecture, 1, seed=3))
    other = state_to_numpy(build_network(architecture, 1, seed=4))
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    assert not np.array_equal(first["dense.weight"], other["dense.weight"])


def test_build_network_leaves_global_rng_alone():
    torch.manual_seed(99)
    expected = torch.rand(3)
    torch.manual_seed(99)
    build_network(GANArchitecture(n_points=40, hidden_units=32), 1, seed=3)
    assert torch.equal(torch.rand(3), expected)


def test_regression_coding_round_trip():
    values = np.array([0.0, 10.0, 20.0, 30.0])
    coding = TargetCoding.fit("regression", values)
    encoded = coding.encode(values)
    assert encoded.mean() == pytest.approx(0.0)
    assert encoded.std() == pytest.approx(1.0)
    np.testing.assert_allclose(coding.decode(encoded[:, None]), values, atol=1e-12)


def test_constant_target_keeps_unit_scale():
    coding = TargetCoding.fit("regression", np.full(5, 2.5))
    assert coding.std == 1.0
    np.testing.assert_allclose(coding.encode(np.full(5, 2.5)), 0.0)


def test_class_coding_uses_fixed_classes():
    coding = TargetCoding.fit("classification", np.array(["b", "a"]), classes=["c", "a", "b"])
    assert coding.classes == ("a", "b", "c")
    assert coding.n_outputs == 3
    np.testing.assert_array_equal(coding.encode(np.array(["c", "a"])), [2, 0])
    decoded = coding.decode(np.array([[0.1, 0.9, 0.0], [0.0, 0.0, 2.0]]))
    np.testing.assert_array_equal(decoded, ["b", "c"])
    assert decoded.dtype.kind == "U"


def test_network_inputs_padded(glucose_data):
    spectra, _ = glucose_data
    architecture = GANArchitecture(n_points=spectra.shape[1])
    inputs = network_inputs(spectra, architecture)
    assert inputs.shape == (len(spectra), 1, architecture.padded_points)
    assert inputs.dtype == torch.float32
    # Padding repeats the last point of each spectrum.
    np.testing.assert_allclose(inputs[:, 0, -1].numpy(), spectra[:, -1], rtol=1e-6)


def test_network_inputs_reject_other_length(glucose_data):
    spectra, _ = glucose_data
    with pytest.raises(SettingsError, match="points"):
        network_inputs(spectra, GANArchitecture(n_points=spectra.shape[1] + 4))


def test_fit_network_reduces_loss(glucose_data):
    spectra, glucose = glucose_data
    architecture = GANArchitecture(n_points=spectra.shape[1], hidden_units=64)
    settings = TransferSettings(epochs=30, learning_rate=1e-3, batch_size=8)
    coding = TargetCoding.fit("regression", glucose)
    network = build_network(architecture, 1, seed=0)
    epochs_seen = []
    losses = fit_network(
        network, spectra, coding.encode(glucose), "regression", settings,
        torch.device("cpu"), on_epoch=lambda epoch, loss: epochs_seen.append(epoch),
    )
    assert epochs_seen == list(range(1, 31))
    assert len(losses) == 30
    # The standardised targets start near a mean squared error of 1.
    assert losses[-1] < 0.5 * losses[0]
    fitted = coding.decode(network_outputs(network, spectra))
    assert np.sqrt(np.mean((fitted - glucose) ** 2)) < glucose.std()


def test_frozen_trunk_stays_fixed(glucose_data):
    spectra, glucose = glucose_data
    architecture = GANArchitecture(n_points=spectra.shape[1], hidden_units=32)
    state = build_network(architecture, 1, seed=1).state_dict()
    trunk = {k: v.numpy() for k, v in state.items() if not k.startswith("head.")}
    network = build_network(architecture, 1, seed=0, discriminator_state=trunk,
                            freeze_trunk=True)
    head_before = network.head.weight.detach().clone()
    fit_network(network, spectra, TargetCoding.fit("regression", glucose).encode(glucose),
                "regression", TransferSettings(epochs=3, learning_rate=1e-3),
                torch.device("cpu"))
    for key in TRUNK_KEYS:
        np.testing.assert_array_equal(network.state_dict()[key].numpy(), trunk[key])
    assert not torch.equal(network.head.weight, head_before)


def test_head_units_add_hidden_layer():
    architecture = GANArchitecture(n_points=40, hidden_units=32)
    network = build_network(architecture, 2, seed=0, head_units=8)
    own = network.state_dict()
    assert own["hidden.weight"].shape == (8, 32)
    assert own["head.weight"].shape == (2, 8)
    inputs = torch.zeros(3, 1, architecture.padded_points)
    assert network(inputs).shape == (3, 2)
    assert "hidden.weight" not in build_network(architecture, 2, seed=0).state_dict()


def test_early_stopping_restores_best_weights(glucose_data):
    spectra, glucose = glucose_data
    architecture = GANArchitecture(n_points=spectra.shape[1], hidden_units=32)
    coding = TargetCoding.fit("regression", glucose[:15])
    encoded = coding.encode(glucose)
    # A high learning rate makes the validation loss jump about, so the best
    # epoch is rarely the last one.
    settings = TransferSettings(epochs=12, learning_rate=1e-2, batch_size=5, patience=4)
    network = build_network(architecture, 1, seed=0)
    report = train_network(network, spectra[:15], encoded[:15], "regression", settings,
                           torch.device("cpu"), validation=(spectra[15:], encoded[15:]))
    assert report.epochs_run == len(report.losses) == len(report.validation_losses)
    assert report.epochs_run <= 12
    assert report.best_epoch == int(np.argmin(report.validation_losses)) + 1
    if report.epochs_run < 12:
        assert report.epochs_run - report.best_epoch == 4
    outputs = network_outputs(network, spectra[15:])
    restored = float(np.mean((outputs[:, 0] - encoded[15:]) ** 2))
    assert restored == pytest.approx(min(report.validation_losses), rel=1e-4)


def test_train_network_fits_several_targets(glucose_data):
    spectra, glucose = glucose_data
    architecture = GANArchitecture(n_points=spectra.shape[1], hidden_units=32)
    targets = np.column_stack([glucose, -glucose])
    encoded = (targets - targets.mean(axis=0)) / targets.std(axis=0)
    network = build_network(architecture, 2, seed=0)
    report = train_network(network, spectra, encoded, "regression",
                           TransferSettings(epochs=2, learning_rate=1e-3), torch.device("cpu"))
    assert report.best_epoch == 2
    assert report.validation_losses == []
    assert network_outputs(network, spectra).shape == (len(spectra), 2)
