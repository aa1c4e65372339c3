"""GAN training on real coffee spectra: statistics, callbacks, stop, pause, resume."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import DataError, SettingsError
from specgan_gui.models.gan1d import (
    Discriminator,
    GANArchitecture,
    load_numpy_state,
    pad_spectra,
    training_epoch_flops,
)
from specgan_gui.training.device import (
    KEEP_FREED_MEMORY_VARIABLE,
    resolve_device,
    resolve_precision,
)
from specgan_gui.training.gan_trainer import (
    EpochStats,
    GANTrainer,
    GANTrainingSettings,
    TrainingCallbacks,
)
from specgan_gui.training.task import TaskState

# The first 400 of 1841 points keep the networks small enough for fast tests.
POINTS = 400
# A narrow Dense layer makes the plumbing tests fast.  The reference width is
# used in test_short_run_trains_reference_width.
SMALL = dict(hidden_units=64)
THREAD_TIMEOUT = 60.0  # seconds, generous for a loaded 2-core machine

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")


@pytest.fixture(scope="module")
def spectra(coffee) -> np.ndarray:
    """Coffee spectra cropped to the first 400 points and scaled to [-1, 1]."""
    pipeline = Pipeline.default(crop=(0, POINTS - 1))
    scaled = pipeline.fit_transform(coffee.axis, coffee.spectra)
    assert scaled.shape == (60, POINTS)
    return scaled


def make_settings(**values) -> GANTrainingSettings:
    defaults = dict(epochs=2, batch_size=5, device="cpu", snapshot_count=4)
    return GANTrainingSettings(**{**defaults, **values})


class Recorder(TrainingCallbacks):
    """Keep every callback in arrival order."""

    def __init__(self):
        self.events: list[tuple[str, int]] = []
        self.stats: list[EpochStats] = []
        self.snapshots = []
        self.checkpoints = []

    def on_epoch(self, stats):
        self.events.append(("epoch", stats.epoch))
        self.stats.append(stats)

    def on_snapshot(self, snapshot):
        self.events.append(("snapshot", snapshot.epoch))
        self.snapshots.append(snapshot)

    def on_checkpoint(self, checkpoint):
        self.events.append(("checkpoint", checkpoint.epoch))
        self.checkpoints.append(checkpoint)


class StopAtCall(TaskState):
    """A task state that requests a stop at its n-th `checkpoint` call (one per batch)."""

    def __init__(self, call: int):
        super().__init__()
        self.calls = 0
        self.stop_call = call

    def checkpoint(self):
        self.calls += 1
        if self.calls == self.stop_call:
            self.request_stop()
        super().checkpoint()


def numpy_copy(tree):
    """Deep-copy a resume state through NumPy, checking it is a valid Tree."""
    assert isinstance(tree, dict)
    result = {}
    for key, value in tree.items():
        assert isinstance(key, str), key
        assert key, "empty key"
        assert "/" not in key, key
        if isinstance(value, dict):
            result[key] = numpy_copy(value)
        elif isinstance(value, np.ndarray):
            assert value.dtype.kind in "biufU", (key, value.dtype)
            result[key] = np.array(value, copy=True)
        else:
            assert isinstance(value, (int, float, bool, str)), (key, type(value))
            result[key] = value
    return result


def assert_same_parameters(first: torch.nn.Module, second: torch.nn.Module):
    for (name, a), (_, b) in zip(first.named_parameters(), second.named_parameters()):
        assert torch.equal(a, b), name


# --- a real run -----------------------------------------------------------------


def test_short_run_trains_reference_width(spectra):
    architecture = GANArchitecture(POINTS)  # reference widths, 400 points
    trainer = GANTrainer(spectra, architecture, make_settings(epochs=2, batch_size=30))
    before_g = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    before_d = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    recorder = Recorder()

    outcome = trainer.run(callbacks=recorder)

    assert outcome.epochs_completed == 2
    assert not outcome.stopped
    assert outcome.reason == "finished"
    assert trainer.epoch == 2
    for name, tensor in trainer.generator.state_dict().items():
        assert not torch.equal(tensor, before_g[name]), name
    for name, tensor in trainer.discriminator.state_dict().items():
        assert not torch.equal(tensor, before_d[name]), name
    assert [s.epoch for s in recorder.stats] == [1, 2]
    for stats in recorder.stats:
        values = stats.to_dict()
        assert tuple(values) == EpochStats.FIELDS
        assert all(math.isfinite(v) for v in values.values()), values
        assert stats.discriminator_loss > 0
        assert stats.generator_loss > 0
        assert 0 <= stats.d_real <= 1
        assert 0 <= stats.d_fake <= 1
        assert stats.discriminator_grad_norm > 0
        assert stats.generator_grad_norm > 0
        assert stats.seconds > 0


def test_snapshots_are_unpadded_and_change(spectra):
    architecture = GANArchitecture(POINTS - 2, **SMALL)  # 398 points pad to 400
    trainer = GANTrainer(spectra[:, :398], architecture, make_settings(snapshot_interval=1))
    recorder = Recorder()
    before = trainer.snapshot()
    trainer.run(callbacks=recorder)

    assert [s.epoch for s in recorder.snapshots] == [1, 2]
    for snapshot in recorder.snapshots:
        assert snapshot.spectra.shape == (4, 398)
        assert snapshot.spectra.dtype == np.float32
        assert np.abs(snapshot.spectra).max() <= 1.0
    assert before.epoch == 0
    assert not np.array_equal(before.spectra, recorder.snapshots[-1].spectra)


def test_generate_shape_and_seed(spectra):
    architecture = GANArchitecture(POINTS - 2, **SMALL)
    trainer = GANTrainer(spectra[:, :398], architecture, make_settings())
    first = trainer.generate(5, seed=3)
    assert first.shape == (5, 398)
    assert first.dtype == np.float32
    assert np.array_equal(first, trainer.generate(5, seed=3))
    assert not np.array_equal(first, trainer.generate(5, seed=4))
    assert trainer.generate(0).shape == (0, 398)
    assert trainer.generate(300).shape == (300, 398)  # more than one chunk


def test_generator_step_computes_no_discriminator_gradients(spectra):
    settings = make_settings(epochs=1, batch_size=60, discriminator_steps=2)
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), settings)
    gradient_count = []
    trainer.discriminator.output.weight.register_hook(lambda grad: gradient_count.append(1))
    trainer.run()
    # One batch: two discriminator steps, and none from the generator step.
    assert len(gradient_count) == 2
    assert all(p.requires_grad for p in trainer.discriminator.parameters())


def test_global_rng_untouched(spectra):
    state = torch.get_rng_state()
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), make_settings(epochs=1))
    trainer.run()
    assert torch.equal(torch.get_rng_state(), state)


# --- callbacks and checkpoints ----------------------------------------------------


def test_callback_order(spectra):
    settings = make_settings(
        epochs=5, batch_size=30, snapshot_interval=2, checkpoint_interval=2
    )
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), settings)
    recorder = Recorder()
    trainer.run(callbacks=recorder)
    assert recorder.events == [
        ("epoch", 1),
        ("epoch", 2), ("snapshot", 2), ("checkpoint", 2),
        ("epoch", 3),
        ("epoch", 4), ("snapshot", 4), ("checkpoint", 4),
        ("epoch", 5), ("checkpoint", 5),  # the final checkpoint
    ]


def test_final_checkpoint_not_repeated(spectra):
    settings = make_settings(epochs=4, batch_size=30, snapshot_interval=10, checkpoint_interval=2)
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), settings)
    recorder = Recorder()
    trainer.run(callbacks=recorder)
    assert [e for e in recorder.events if e[0] == "checkpoint"] == [
        ("checkpoint", 2), ("checkpoint", 4),
    ]
    assert recorder.snapshots == []


def test_checkpoint_loads_into_new_discriminator(spectra):
    architecture = GANArchitecture(POINTS, **SMALL)
    trainer = GANTrainer(spectra, architecture, make_settings(batch_size=30))
    recorder = Recorder()
    trainer.run(callbacks=recorder)
    checkpoint = recorder.checkpoints[-1]
    assert checkpoint.epoch == 2
    assert all(isinstance(a, np.ndarray) for a in checkpoint.discriminator.values())

    loaded = Discriminator(architecture)
    load_numpy_state(loaded, checkpoint.discriminator)
    real = pad_spectra(torch.from_numpy(spectra[:10]).float().unsqueeze(1), 400)
    with torch.no_grad():
        assert torch.equal(loaded(real), trainer.discriminator(real))


# --- exact resume ----------------------------------------------------------------


def test_resume_continues_exactly(spectra):
    architecture = GANArchitecture(POINTS, **SMALL)
    data = spectra[:12]  # 3 batches of 5, 5 and 2 spectra per epoch
    options = dict(discriminator_steps=2, snapshot_interval=1)
    straight = GANTrainer(data, architecture, make_settings(epochs=4, **options))
    straight_record = Recorder()
    straight.run(callbacks=straight_record)

    first = GANTrainer(data, architecture, make_settings(epochs=2, **options))
    first.run()
    state = numpy_copy(first.resume_state())
    assert state["epoch"] == 2
    assert "epoch_progress" not in state
    del first
    # Another seed must not matter: every random state comes from the resume state.
    resumed_settings = make_settings(epochs=4, seed=7, **options)
    resumed = GANTrainer(data, architecture, resumed_settings, state)
    resumed_record = Recorder()
    outcome = resumed.run(callbacks=resumed_record)

    assert outcome.epochs_completed == 4
    assert_same_parameters(straight.generator, resumed.generator)
    assert_same_parameters(straight.discriminator, resumed.discriminator)
    assert [s.epoch for s in resumed_record.stats] == [3, 4]
    for a, b in zip(straight_record.stats[2:], resumed_record.stats):
        assert a.discriminator_loss == b.discriminator_loss
        assert a.generator_loss == b.generator_loss
    last_straight = straight_record.snapshots[-1].spectra
    assert np.array_equal(last_straight, resumed_record.snapshots[-1].spectra)
    final_state = numpy_copy(resumed.resume_state())
    straight_state = numpy_copy(straight.resume_state())
    for network in ("generator_optimizer", "discriminator_optimizer"):
        for index, entry in straight_state[network]["state"].items():
            for name, value in entry.items():
                assert np.array_equal(value, final_state[network]["state"][index][name])


def test_resume_after_stop_mid_epoch(spectra):
    architecture = GANArchitecture(POINTS, **SMALL)
    data = spectra[:12]  # 3 batches per epoch
    straight = GANTrainer(data, architecture, make_settings(epochs=3))
    straight.run()

    interrupted = GANTrainer(data, architecture, make_settings(epochs=3))
    epoch_one = {}

    class KeepEpochOne(Recorder):
        def on_epoch(self, stats):
            super().on_epoch(stats)
            if stats.epoch == 1:
                epoch_one.update(
                    {k: v.clone() for k, v in interrupted.discriminator.state_dict().items()}
                )

    recorder = KeepEpochOne()
    # Calls 1-3 start the batches of epoch 1; call 5 is the second batch of epoch 2.
    outcome = interrupted.run(StopAtCall(5), recorder)

    assert outcome.stopped
    assert outcome.reason == "stopped by user"
    assert outcome.epochs_completed == 1
    # The final checkpoint contains epoch 1, not the half-trained epoch 2.
    assert recorder.events[-1] == ("checkpoint", 1)
    for name, array in recorder.checkpoints[-1].discriminator.items():
        assert np.array_equal(array, epoch_one[name].numpy()), name
    assert not torch.equal(interrupted.discriminator.dense.weight, epoch_one["dense.weight"])

    state = numpy_copy(interrupted.resume_state())
    assert state["epoch_progress"]["next_sample"] == 5
    resumed = GANTrainer(data, architecture, make_settings(epochs=3), state)
    assert resumed.run().epochs_completed == 3
    assert_same_parameters(straight.generator, resumed.generator)
    assert_same_parameters(straight.discriminator, resumed.discriminator)


def test_resume_rejects_other_architecture(spectra):
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), make_settings())
    state = trainer.resume_state()
    other = GANArchitecture(POINTS, hidden_units=32)
    with pytest.raises(SettingsError, match="architecture"):
        GANTrainer(spectra, other, make_settings(), state)


def test_resume_rejects_incomplete_state(spectra):
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), make_settings())
    state = trainer.resume_state()
    del state["rng"]
    with pytest.raises(SettingsError, match="missing the entry 'rng'"):
        GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), make_settings(), state)


# --- stop, pause and failures --------------------------------------------------------


def test_stop_from_other_thread(spectra):
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), make_settings(epochs=1000))
    task = TaskState()
    first_epoch = threading.Event()
    outcomes = []

    class SignalFirstEpoch(Recorder):
        def on_epoch(self, stats):
            super().on_epoch(stats)
            first_epoch.set()

    recorder = SignalFirstEpoch()
    worker = threading.Thread(target=lambda: outcomes.append(trainer.run(task, recorder)))
    worker.start()
    assert first_epoch.wait(THREAD_TIMEOUT)
    task.request_stop()
    worker.join(THREAD_TIMEOUT)

    assert not worker.is_alive()
    outcome = outcomes[0]
    assert outcome.stopped
    assert outcome.reason == "stopped by user"
    assert 1 <= outcome.epochs_completed < 1000
    assert recorder.events[-1] == ("checkpoint", outcome.epochs_completed)


def test_pause_blocks_until_resume(spectra):
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), make_settings(epochs=3))
    task = TaskState()
    first_epoch = threading.Event()
    paused = threading.Event()
    second_epoch = threading.Event()
    outcomes = []

    class PauseAfterFirstEpoch(Recorder):
        def on_epoch(self, stats):
            super().on_epoch(stats)
            if stats.epoch == 1:
                first_epoch.set()
                # Wait until the controlling thread has paused, so the next
                # batch surely meets the pause.
                assert paused.wait(THREAD_TIMEOUT)
            else:
                second_epoch.set()

    worker = threading.Thread(
        target=lambda: outcomes.append(trainer.run(task, PauseAfterFirstEpoch()))
    )
    worker.start()
    assert first_epoch.wait(THREAD_TIMEOUT)
    task.pause()
    paused.set()

    assert not second_epoch.wait(0.3)  # blocked in checkpoint(), no progress
    assert trainer.epoch == 1
    assert worker.is_alive()
    task.resume()
    worker.join(THREAD_TIMEOUT)

    assert not worker.is_alive()
    assert outcomes[0].epochs_completed == 3
    assert not outcomes[0].stopped


def test_non_finite_loss_keeps_last_good_checkpoint(spectra):
    architecture = GANArchitecture(POINTS, **SMALL)
    healthy = GANTrainer(spectra, architecture, make_settings(epochs=2, batch_size=30))
    healthy.run()
    state = numpy_copy(healthy.resume_state())

    # Resumed with a learning rate near float32's maximum, the first
    # discriminator step still applies but the generator loss becomes NaN.
    settings = make_settings(epochs=5, batch_size=30, generator_lr=1e38, discriminator_lr=1e38)
    exploding = GANTrainer(spectra, architecture, settings, state)
    recorder = Recorder()
    outcome = exploding.run(callbacks=recorder)

    assert outcome.stopped
    assert outcome.epochs_completed == 2
    assert outcome.reason.startswith("non-finite")
    assert "epoch 3, batch 1" in outcome.reason
    assert recorder.events == [("checkpoint", 2)]
    checkpoint = recorder.checkpoints[0].discriminator
    for name, array in checkpoint.items():
        assert np.isfinite(array).all(), name
        assert np.array_equal(array, state["discriminator"][name]), name
    # The live weights moved in the failed epoch; the checkpoint did not follow.
    assert not np.array_equal(
        exploding.discriminator.dense.weight.detach().numpy(), checkpoint["dense.weight"]
    )


def test_non_finite_in_first_epoch_emits_no_checkpoint(spectra):
    settings = make_settings(epochs=5, batch_size=30, generator_lr=1e38, discriminator_lr=1e38)
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), settings)
    recorder = Recorder()
    outcome = trainer.run(callbacks=recorder)
    assert outcome.stopped
    assert outcome.epochs_completed == 0
    assert "no epoch was completed" in outcome.reason
    assert recorder.events == []


# --- settings, data and devices -------------------------------------------------------


@pytest.mark.parametrize(
    "name, value",
    [
        ("epochs", 0),
        ("epochs", 2.5),
        ("batch_size", 0),
        ("batch_size", True),
        ("discriminator_steps", 0),
        ("generator_lr", 0.0),
        ("discriminator_lr", -1e-4),
        ("generator_lr", float("nan")),
        ("adam_beta1", 1.0),
        ("snapshot_interval", 0),
        ("checkpoint_interval", -1),
        ("seed", -1),
        ("device", "tpu"),
        ("precision", "fp16"),
    ],
)
def test_invalid_settings_raise(name, value):
    with pytest.raises(SettingsError, match=name):
        GANTrainingSettings(**{name: value})


def test_settings_dict_round_trip():
    settings = GANTrainingSettings(epochs=np.int64(50), generator_lr=np.float64(1e-3))
    assert settings.epochs == 50
    assert type(settings.epochs) is int
    values = settings.to_dict()
    assert GANTrainingSettings.from_dict({**values, "unknown": 1}) == settings


def test_spectra_of_wrong_length_raise(spectra):
    with pytest.raises(DataError, match="400"):
        GANTrainer(spectra[:, :300], GANArchitecture(POINTS, **SMALL), make_settings())


def test_non_finite_spectra_raise(spectra):
    broken = spectra.copy()
    broken[3, 10] = np.nan
    with pytest.raises(DataError, match="NaN"):
        GANTrainer(broken, GANArchitecture(POINTS, **SMALL), make_settings())


def test_resolve_device_names():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(SettingsError, match="Unknown device"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_unavailable_raises():
    with pytest.raises(SettingsError, match="CUDA is not available"):
        resolve_device("cuda")


@needs_cuda
def test_cuda_run_and_cpu_resume(spectra):
    architecture = GANArchitecture(POINTS, **SMALL)
    trainer = GANTrainer(
        spectra, architecture, make_settings(device="cuda", batch_size=30, precision="float32")
    )
    assert trainer.device.type == "cuda"
    assert next(trainer.generator.parameters()).is_cuda
    cpu = GANTrainer(spectra, architecture, make_settings(epochs=1, batch_size=30))
    # Same seed, so same initial weights and snapshot noise on both devices;
    # they differ only by rounding (cuDNN may use TF32 convolutions).
    np.testing.assert_allclose(trainer.snapshot().spectra, cpu.snapshot().spectra, atol=1e-2)

    recorder = Recorder()
    outcome = trainer.run(callbacks=recorder)
    assert outcome.epochs_completed == 2
    for stats in recorder.stats:
        assert all(math.isfinite(v) for v in stats.to_dict().values())
    assert all(isinstance(a, np.ndarray) for a in recorder.checkpoints[-1].discriminator.values())
    assert trainer.generate(3, seed=1).shape == (3, POINTS)

    # The noise codes and batch order are drawn on the CPU for both devices.
    cpu_record = Recorder()
    cpu.run(callbacks=cpu_record)
    assert cpu_record.stats[0].discriminator_loss == pytest.approx(
        recorder.stats[0].discriminator_loss, rel=1e-2
    )

    state = numpy_copy(trainer.resume_state())
    resumed = GANTrainer(spectra, architecture, make_settings(epochs=3, batch_size=30), state)
    assert resumed.device.type == "cpu"
    assert resumed.run().epochs_completed == 3


def test_settings_without_precision_load():
    # Projects stored before the precision setting existed have no such key.
    values = GANTrainingSettings().to_dict()
    del values["precision"]
    assert GANTrainingSettings.from_dict(values).precision == "auto"


def test_resolve_precision_cpu():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) is None
    assert resolve_precision(" Float32 ", cpu) is None
    with pytest.raises(SettingsError, match="only available for training on a CUDA GPU"):
        resolve_precision("bf16", cpu)
    with pytest.raises(SettingsError, match="Unknown precision 'fp16'"):
        resolve_precision("fp16", cpu)


def test_resolve_precision_cuda_support():
    # A torch.device object needs no GPU; support is passed in explicitly.
    cuda = torch.device("cuda")
    assert resolve_precision("auto", cuda, bf16_supported=True) is torch.bfloat16
    assert resolve_precision("bf16", cuda, bf16_supported=True) is torch.bfloat16
    assert resolve_precision("auto", cuda, bf16_supported=False) is None
    assert resolve_precision("float32", cuda, bf16_supported=True) is None
    with pytest.raises(SettingsError, match="does not support bf16"):
        resolve_precision("bf16", cuda, bf16_supported=False)


def test_cpu_trainer_uses_float32(spectra):
    trainer = GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), make_settings())
    assert trainer.autocast_dtype is None
    assert trainer._generator_forward is trainer.generator
    with pytest.raises(SettingsError, match="bf16"):
        GANTrainer(spectra, GANArchitecture(POINTS, **SMALL), make_settings(precision="bf16"))


@pytest.mark.parametrize("discriminator_steps", [1, 2])
def test_epoch_flops_match_torch_counter(spectra, discriminator_steps):
    """The analytic count equals torch's FLOP counter over a real epoch."""
    from torch.utils.flop_counter import FlopCounterMode

    architecture = GANArchitecture(POINTS, **SMALL)
    settings = make_settings(
        epochs=1, batch_size=25, discriminator_steps=discriminator_steps, snapshot_interval=5
    )
    trainer = GANTrainer(spectra[:55], architecture, settings)
    with FlopCounterMode(display=False) as counter:
        trainer.run()
    expected = training_epoch_flops(architecture, 55, 25, discriminator_steps)
    assert counter.get_total_flops() == expected


def test_compiled_training_matches_uncompiled(spectra):
    # The "eager" backend traces the networks with torch.compile without
    # generating code, so the compiled path must repeat the plain one exactly.
    architecture = GANArchitecture(POINTS, **SMALL)
    # 60 spectra: batches of 25, 25 and 10, and a discriminator step without
    # generator gradients before each of the two with them.
    settings = make_settings(batch_size=25, discriminator_steps=2)
    plain = GANTrainer(spectra, architecture, settings)
    compiled = GANTrainer(spectra, architecture, settings)
    assert compiled._compile_for_training(backend="eager")
    assert compiled._generator_forward is not compiled.generator
    assert all(p.grad is None for p in compiled.generator.parameters())
    assert all(p.grad is None for p in compiled.discriminator.parameters())
    plain_record, compiled_record = Recorder(), Recorder()
    plain.run(callbacks=plain_record)
    compiled.run(callbacks=compiled_record)
    assert [s.to_dict() | {"seconds": 0} for s in compiled_record.stats] == [
        s.to_dict() | {"seconds": 0} for s in plain_record.stats
    ]
    for name, value in plain.generator.state_dict().items():
        assert torch.equal(compiled.generator.state_dict()[name], value), name


def _failing_backend(graph_module, example_inputs):
    raise RuntimeError("compiler not installed")


def test_compile_failure_falls_back(spectra, caplog):
    architecture = GANArchitecture(POINTS, **SMALL)
    trainer = GANTrainer(spectra, architecture, make_settings(epochs=1))
    weights = {k: v.clone() for k, v in trainer.discriminator.state_dict().items()}
    assert not trainer._compile_for_training(backend=_failing_backend)
    assert "training runs uncompiled" in caplog.text
    assert trainer._generator_forward is trainer.generator
    assert trainer._discriminator_forward is trainer.discriminator
    assert all(p.requires_grad for p in trainer.discriminator.parameters())
    for name, value in trainer.discriminator.state_dict().items():
        assert torch.equal(value, weights[name]), name
    assert trainer.run().epochs_completed == 1


@needs_cuda
def test_cuda_bf16_run(spectra):
    architecture = GANArchitecture(POINTS, **SMALL)
    trainer = GANTrainer(spectra, architecture, make_settings(device="cuda", batch_size=25))
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    assert trainer.autocast_dtype is expected
    recorder = Recorder()
    assert trainer.run(callbacks=recorder).epochs_completed == 2
    for stats in recorder.stats:
        assert all(math.isfinite(v) for v in stats.to_dict().values())
    # Weights stay float32 under autocast.
    assert all(p.dtype == torch.float32 for p in trainer.generator.parameters())
    assert trainer.snapshot().spectra.dtype == np.float32


_FREED_MEMORY_PROBE = """
import os
import numpy as np
from specgan_gui.training.device import keep_freed_memory

def resident():
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

applied = keep_freed_memory()
block = np.ones(64_000_000 // 8)  # 64 MB, above glibc's largest mmap threshold
before = resident()
del block
print(applied, keep_freed_memory(), (before - resident()) / 1e6)
"""


@pytest.mark.skipif(
    not hasattr(os, "confstr") or not os.path.exists("/proc/self/statm"),
    reason="the setting applies to glibc on Linux",
)
@pytest.mark.parametrize("variable, applied", [(None, True), ("0", False)])
def test_keep_freed_memory_keeps_large_blocks(variable, applied):
    """A freed 64 MB block stays with the process, unless the variable turns it off."""
    environment = {k: v for k, v in os.environ.items() if k != KEEP_FREED_MEMORY_VARIABLE}
    if variable is not None:
        environment[KEEP_FREED_MEMORY_VARIABLE] = variable
    result = subprocess.run(
        [sys.executable, "-c", _FREED_MEMORY_PROBE],
        capture_output=True, text=True, env=environment, check=True,
    )
    first, second, returned_mb = result.stdout.split()
    assert (first, second) == (str(applied), str(applied))
    if applied:
        assert float(returned_mb) < 8
    else:
        assert float(returned_mb) > 56
