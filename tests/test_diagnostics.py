"""GAN health diagnostics: realism measures, alarm rules and their place in training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from specgan_gui.data.preprocessing import Pipeline, parse_steps
from specgan_gui.models.gan1d import GANArchitecture
from specgan_gui.project.project import Project
from specgan_gui.training import diagnostics
from specgan_gui.training.diagnostics import (
    REALISM_MEASURES,
    Alarm,
    HealthMonitor,
    realism_measures,
)
from specgan_gui.training.gan_trainer import EpochStats, GANTrainingSettings, TrainingOutcome
from specgan_gui.training.workflow import train_gan

POINTS = 200
PIPELINE = f"cut:0-{POINTS - 1},scale"


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Train on one thread: the networks here are small, and on a loaded 2-core
    machine two threads made a 10-epoch run take 30 s instead of 1 s."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def scaled_coffee(coffee) -> np.ndarray:
    pipeline = Pipeline.from_spec(parse_steps(PIPELINE)).fit(coffee.axis, coffee.spectra)
    return pipeline.transform(coffee.spectra)


def coffee_project(coffee) -> Project:
    return Project(dataset=coffee, preprocessing=parse_steps(PIPELINE))


def stats(epoch: int, discriminator_loss: float = 0.5, generator_loss: float = 1.5,
          grad_norm: float = 10.0) -> EpochStats:
    return EpochStats(
        epoch=epoch, discriminator_loss=discriminator_loss, generator_loss=generator_loss,
        d_real=0.7, d_fake=0.3, discriminator_grad_norm=grad_norm,
        generator_grad_norm=grad_norm / 2, seconds=0.5,
    )


def healthy_measures(**changes) -> dict[str, float]:
    measures = {
        "mean_distance": 0.02, "std_distance": 0.01, "nearest_neighbour_ratio": 1.1,
        "classifier_score": 0.55, "diversity": 0.9, "variation": 1.0,
    }
    measures.update(changes)
    return measures


def feed(monitor: HealthMonitor, rows) -> list[Alarm]:
    alarms = []
    for row in rows:
        alarms += monitor.observe_epoch(row)
    return alarms


# --- realism measures ------------------------------------------------------------------


def test_realism_real_halves_look_alike(scaled_coffee):
    order = np.random.default_rng(3).permutation(len(scaled_coffee))
    first, second = scaled_coffee[order[:30]], scaled_coffee[order[30:]]

    measures = realism_measures(first, second)

    assert set(measures) == set(REALISM_MEASURES)
    assert 0.25 <= measures["classifier_score"] <= 0.75
    assert measures["mean_distance"] < 0.05
    assert measures["std_distance"] < 0.05
    assert 0.5 <= measures["nearest_neighbour_ratio"] <= 1.5
    assert 0.7 <= measures["diversity"] <= 1.4
    assert 0.8 <= measures["variation"] <= 1.25
    assert HealthMonitor().observe_realism(10, measures) == []


def test_realism_flat_lines(scaled_coffee):
    levels = np.linspace(-0.5, 0.5, 16)[:, None]
    flat = np.repeat(levels, scaled_coffee.shape[1], axis=1)

    measures = realism_measures(scaled_coffee, flat)

    assert measures["variation"] == pytest.approx(0.0, abs=1e-12)
    assert measures["classifier_score"] > 0.9
    assert measures["nearest_neighbour_ratio"] > 1.5


def test_realism_identical_copies(scaled_coffee):
    copies = np.repeat(scaled_coffee[:1], 16, axis=0)

    measures = realism_measures(scaled_coffee, copies)

    assert measures["diversity"] < 1e-5
    assert measures["variation"] == pytest.approx(
        scaled_coffee[0].std() / scaled_coffee.std(axis=1).mean())


def test_realism_noisy_cloud_is_told_apart(scaled_coffee):
    noise = np.random.default_rng(0).normal(0.0, 0.05, (64, scaled_coffee.shape[1]))
    cloud = scaled_coffee.mean(axis=0) + noise

    assert realism_measures(scaled_coffee, cloud)["classifier_score"] > 0.85


@pytest.mark.parametrize("generated, problem", [
    (np.zeros((5, 7)), "points"),
    (np.zeros((1, POINTS)), "at least 2"),
    (np.full((5, POINTS), np.nan), "NaN"),
])
def test_realism_rejects_invalid_input(scaled_coffee, generated, problem):
    with pytest.raises(ValueError, match=problem):
        realism_measures(scaled_coffee, generated)


# --- alarm rules on built statistics ----------------------------------------------------


def test_discriminator_wins_needs_sustained_span():
    monitor = HealthMonitor()
    limit = diagnostics.DISCRIMINATOR_WINS_EPOCHS

    alarms = feed(monitor, [stats(e, discriminator_loss=0.01) for e in range(1, limit)])
    assert alarms == []

    alarms = feed(monitor, [stats(limit, discriminator_loss=0.01)])
    assert [a.kind for a in alarms] == ["discriminator_wins"]
    assert alarms[0].epoch == limit
    assert "below 0.05" in alarms[0].message
    assert "discriminator learning rate" in alarms[0].remedy


def test_discriminator_wins_one_alarm_per_episode():
    monitor = HealthMonitor()
    limit = diagnostics.DISCRIMINATOR_WINS_EPOCHS
    quiet = diagnostics.CLEAR_AFTER_EPOCHS
    epoch = 0

    def run(count, loss):
        nonlocal epoch
        rows = [stats(epoch + i + 1, discriminator_loss=loss) for i in range(count)]
        epoch += count
        return feed(monitor, rows)

    first = run(limit + 50, 0.01)
    # A short recovery does not end the episode.
    brief = run(quiet - 1, 0.6) + run(limit + 10, 0.01)
    # A long recovery does; the condition returning raises a new alarm.
    long = run(quiet + 5, 0.6) + run(limit, 0.01)

    assert [a.epoch for a in first] == [limit]
    assert brief == []
    assert [a.kind for a in long] == ["discriminator_wins"]
    assert long[0].epoch == epoch


def test_gradient_norm_sustained_only():
    monitor = HealthMonitor()
    window = diagnostics.GRADIENT_NORM_EPOCHS
    spiky = [stats(e, grad_norm=150.0 if e % 4 == 0 else 30.0) for e in range(1, 101)]
    assert feed(monitor, spiky) == []

    alarms = feed(monitor, [stats(100 + e, grad_norm=150.0) for e in range(1, window + 1)])

    assert [a.kind for a in alarms] == ["gradient_norm"]
    assert "above 100" in alarms[0].message
    assert "learning rates" in alarms[0].remedy


def test_gradient_norm_hovering_at_limit_alarms_once():
    monitor = HealthMonitor()
    clear = diagnostics.CLEAR_AFTER_EPOCHS
    # Medians of 20 epochs swing between about 95 and 105 for 600 epochs.
    hovering = [stats(e, grad_norm=105.0 if (e // 30) % 2 else 95.0) for e in range(1, 601)]

    alarms = feed(monitor, hovering)

    assert [a.kind for a in alarms] == ["gradient_norm"]
    # Well below the limit for long enough, the episode ends; a new rise alarms again.
    calm = feed(monitor, [stats(600 + e, grad_norm=40.0) for e in range(1, 2 * clear + 1)])
    again = feed(monitor, [stats(700 + e, grad_norm=150.0) for e in range(1, 41)])
    assert calm == []
    assert [a.kind for a in again] == ["gradient_norm"]

def test_unstable_discriminator_spikes():
    calm = feed(HealthMonitor(), [stats(e, discriminator_loss=0.4 + 0.05 * np.sin(e))
                                  for e in range(1, 301)])
    assert calm == []

    # A spike of 2.0 every third epoch over a baseline of 0.3.
    losses = [2.0 if e % 3 == 0 else 0.3 for e in range(1, 151)]
    alarms = feed(HealthMonitor(), [stats(e, discriminator_loss=loss)
                                    for e, loss in enumerate(losses, start=1)])

    assert [a.kind for a in alarms] == ["unstable_discriminator"]
    assert "128 filters" in alarms[0].remedy
    assert "2 discriminator steps" in alarms[0].remedy


def test_unstable_discriminator_names_only_what_fired():
    """A loss swinging wildly without spikes over its median names the spread alone."""
    losses = [1e6 if (e // 10) % 2 else 0.3 for e in range(1, 101)]

    alarms = feed(HealthMonitor(), [stats(e, discriminator_loss=loss)
                                    for e, loss in enumerate(losses, start=1)])

    assert [a.kind for a in alarms] == ["unstable_discriminator"]
    assert "spikes" not in alarms[0].message
    assert "a standard deviation of 4.94e+05 over the last 50 epochs" in alarms[0].message


def test_generator_outpaces_poor_realism():
    def run(ratio, score=0.98):
        monitor = HealthMonitor()
        alarms = []
        for epoch in range(1, 151):
            alarms += monitor.observe_epoch(stats(epoch, generator_loss=3.0 - epoch / 75))
            if epoch % 10 == 0:
                measures = healthy_measures(nearest_neighbour_ratio=ratio(epoch),
                                            classifier_score=score)
                alarms += monitor.observe_realism(epoch, measures)
        return alarms

    stalled = run(lambda epoch: 5.0)
    improving = run(lambda epoch: 5.0 - epoch / 50)
    realistic = run(lambda epoch: 5.0, score=0.55)

    assert [a.kind for a in stalled] == ["generator_outpaces_realism"]
    assert stalled[0].epoch == 100
    assert "2 discriminator steps" in stalled[0].remedy
    assert improving == []
    assert realistic == []


def test_collapse_raised_again_after_recovery():
    monitor = HealthMonitor()
    flat = healthy_measures(variation=0.02)
    alike = healthy_measures(diversity=0.03)
    recovery = diagnostics.CLEAR_AFTER_SNAPSHOTS

    first = monitor.observe_realism(10, flat) + monitor.observe_realism(20, flat)
    recovered = []
    for index in range(recovery):
        recovered += monitor.observe_realism(30 + 10 * index, healthy_measures())
    again = monitor.observe_realism(100, alike)

    assert [(a.epoch, a.kind) for a in first] == [(10, "collapse")]
    assert "flat" in first[0].message
    assert "code length 100" in first[0].remedy
    assert recovered == []
    assert [(a.epoch, a.kind) for a in again] == [(100, "collapse")]
    assert "nearly identical" in again[0].message


def test_non_finite_outcome():
    monitor = HealthMonitor()
    reason = "non-finite generator loss (nan) or gradient norm (nan) in epoch 3, batch 1"

    alarms = monitor.observe_outcome(TrainingOutcome(2, True, reason), last_checkpoint_epoch=2)

    assert [(a.epoch, a.kind) for a in alarms] == [(3, "non_finite")]
    assert "last good checkpoint (epoch 2) was kept" in alarms[0].message
    assert monitor.observe_outcome(TrainingOutcome(5, False, "finished"), 5) == []
    assert monitor.observe_outcome(TrainingOutcome(4, True, "stopped by user"), 4) == []


def test_replay_keeps_episode_silent():
    history = {name: [] for name in EpochStats.FIELDS}
    for epoch in range(1, 131):
        row = stats(epoch, discriminator_loss=0.01).to_dict()
        for name in EpochStats.FIELDS:
            history[name].append(row[name])
    history = {name: np.asarray(values) for name, values in history.items()}
    realism = {"epoch": np.array([10.0])} | {
        name: np.array([value]) for name, value in healthy_measures(variation=0.01).items()}

    monitor = HealthMonitor.replay(history, realism)

    assert monitor.observe_epoch(stats(131, discriminator_loss=0.01)) == []
    assert monitor.observe_realism(140, healthy_measures(variation=0.01)) == []


def test_alarm_tree_round_trip():
    alarm = Alarm(epoch=7, kind="collapse", message="flat", remedy="code length 100")
    assert Alarm.from_tree(alarm.to_tree()) == alarm
    stored = {"epoch": np.int64(7), "kind": "collapse", "message": "flat"}
    assert Alarm.from_tree(stored).remedy == diagnostics.REMEDIES["collapse"]


# --- in training ----------------------------------------------------------------------


def test_broken_run_raises_collapse(coffee):
    # A one-unit Dense bottleneck and a generator that barely learns: every
    # generated spectrum stays a nearly horizontal line.
    project = coffee_project(coffee)
    architecture = GANArchitecture(POINTS, code_length=200, hidden_units=1)
    settings = GANTrainingSettings(epochs=10, snapshot_interval=5, generator_lr=1e-5,
                                   device="cpu")
    raised: list[Alarm] = []

    outcome = train_gan(project, settings, architecture, on_alarm=raised.append)

    assert outcome.epochs_completed == 10
    assert [(a.epoch, a.kind) for a in raised] == [(5, "collapse")]
    assert "flat" in raised[0].message
    assert project.alarms == [raised[0].to_tree()]
    assert project.info()["alarms"] == [
        {"epoch": 5, "kind": "collapse", "message": raised[0].message}]
    assert project.realism["variation"].max() < diagnostics.COLLAPSE_RATIO


def test_healthy_run_no_alarm_and_resume(coffee):
    project = coffee_project(coffee)
    settings = GANTrainingSettings(epochs=10, snapshot_interval=5, device="cpu")
    raised: list[Alarm] = []
    records = []

    train_gan(project, settings, on_alarm=raised.append, on_realism=records.append)
    settings.epochs = 15
    train_gan(project, settings, on_alarm=raised.append, on_realism=records.append)

    assert raised == []
    assert project.alarms == []
    assert project.realism["epoch"].tolist() == [5.0, 10.0, 15.0]
    assert [record.epoch for record in records] == [5, 10, 15]
    for name in REALISM_MEASURES:
        assert project.realism[name].shape == (3,), name
        assert np.all(np.isfinite(project.realism[name])), name
    assert project.realism["variation"].min() > diagnostics.COLLAPSE_RATIO
    assert project.realism["diversity"].min() > diagnostics.COLLAPSE_RATIO


def test_non_finite_run_keeps_checkpoint_alarm(coffee):
    project = coffee_project(coffee)
    architecture = GANArchitecture(POINTS, hidden_units=64)
    train_gan(project, GANTrainingSettings(epochs=2, batch_size=30, device="cpu"),
              architecture)
    exploding = GANTrainingSettings(epochs=5, batch_size=30, generator_lr=1e38,
                                    discriminator_lr=1e38, device="cpu")

    outcome = train_gan(project, exploding, architecture)

    assert outcome.stopped
    kinds = [(int(a["epoch"]), str(a["kind"])) for a in project.alarms]
    assert kinds == [(3, "non_finite")]
    assert "last good checkpoint (epoch 2) was kept" in str(project.alarms[0]["message"])
    assert project.checkpoint_epochs[-1] == 2
