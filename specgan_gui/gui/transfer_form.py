"""The Transfer page's settings form: fine-tuning, cross-validation and targets.

`TransferSettingsForm.settings` builds a `TransferSettings`, which raises
`SettingsError` for invalid values.  `load` fills the form from
`TransferSettings.to_dict()`, so a reopened project shows the settings of
its latest transfer or sweep.  Settings without a field here (seed, PLS
component limits) keep the loaded values.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QWidget,
)

from specgan_gui.training.device import DEVICE_CHOICES
from specgan_gui.training.transfer_settings import (
    INTEGER_RANGES,
    VALIDATION_FRACTION_RANGE,
    TransferSettings,
)

CV_CHOICES = (
    ("auto", "Auto (leave-one-out up to 30 spectra)"),
    ("loo", "Leave-one-out"),
    ("kfold", "k-fold"),
)
TRUNK_CHOICES = (
    (False, "Fine-tune all layers"),
    (True, "Freeze the trunk, train the head only"),
)
DEVICE_TEXTS = {"auto": "Auto (GPU when usable)", "cpu": "CPU", "cuda": "GPU (CUDA)"}
NO_GROUP = "none"
#: Value shown for `head_units` 0.
LINEAR_HEAD_TEXT = "none (linear head)"

_RANGES = {name: (low, high) for name, low, high in INTEGER_RANGES}


def _spinbox(name: str, suffix: str, tooltip: str) -> QSpinBox:
    box = QSpinBox()
    low, high = _RANGES[name]
    box.setRange(low, high)
    if suffix:
        box.setSuffix(suffix)
    box.setToolTip(tooltip)
    return box


class TransferSettingsForm(QGroupBox):
    """Every transfer setting a user can change, with units and tooltips."""

    #: The user changed the further targets (a list of column names).
    extra_targets_changed = Signal(list)

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Transfer settings", parent)
        self._loaded = TransferSettings().to_dict()
        self._build()
        self.load(self._loaded)

    # --- layout --------------------------------------------------------------
    def _build(self) -> None:
        self.epochs_spinbox = _spinbox(
            "epochs", " epochs",
            "Maximum fine-tuning epochs of each network in each fold. With early "
            "stopping a fit may stop sooner.")
        self.early_stopping_checkbox = QCheckBox("Stop early on a validation split")
        self.early_stopping_checkbox.setToolTip(
            "Hold out part of each training fold, stop when its loss has not improved for "
            "the patience, and keep the best weights. The final models fitted on all "
            "spectra train for the median of the folds' best epochs.")
        self.early_stopping_checkbox.toggled.connect(self._update_enabled)
        self.patience_spinbox = _spinbox(
            "patience", " epochs",
            "Epochs without a lower validation loss before a fit stops.")
        self.validation_spinbox = QDoubleSpinBox()
        low, high = VALIDATION_FRACTION_RANGE
        self.validation_spinbox.setRange(100 * low, 100 * high)
        self.validation_spinbox.setDecimals(1)
        self.validation_spinbox.setSingleStep(5.0)
        self.validation_spinbox.setSuffix(" %")
        self.validation_spinbox.setToolTip(
            "Share of each training fold held out to decide when to stop "
            f"({100 * low:g} to {100 * high:g} %). It is stratified for classes and "
            "grouped when a group column is set.")
        self.learning_rate_spinbox = QDoubleSpinBox()
        self.learning_rate_spinbox.setDecimals(6)
        self.learning_rate_spinbox.setRange(1e-6, 1.0)
        self.learning_rate_spinbox.setSingleStep(1e-5)
        self.learning_rate_spinbox.setToolTip("Adam learning rate of both networks.")
        self.batch_size_spinbox = _spinbox(
            "batch_size", " spectra", "Spectra per fine-tuning batch.")
        self.trunk_combo = QComboBox()
        for value, text in TRUNK_CHOICES:
            self.trunk_combo.addItem(text, value)
        self.trunk_combo.setToolTip(
            "Freezing keeps the GAN's convolution and Dense(1024) weights fixed and trains "
            "only the new head; fine-tuning trains every layer, starting from the GAN's.")
        self.head_units_spinbox = _spinbox(
            "head_units", " hidden units",
            "Hidden units of the new head: 0 gives a linear layer on the 1024 features, "
            "N adds a hidden layer of N units with ReLU before the output.")
        self.head_units_spinbox.setSpecialValueText(LINEAR_HEAD_TEXT)

        self.cv_combo = QComboBox()
        for value, text in CV_CHOICES:
            self.cv_combo.addItem(text, value)
        self.cv_combo.setToolTip(
            "Auto is leave-one-out up to 30 spectra and k-fold above. "
            "Every model is tested on the same folds; each fold's preprocessing is fitted "
            "on its training spectra only.")
        self.cv_combo.currentIndexChanged.connect(self._update_enabled)
        self.folds_spinbox = _spinbox(
            "n_folds", " folds", "Number of folds of k-fold cross-validation.")
        self.repeats_spinbox = _spinbox(
            "repeats", "",
            "Repetitions of the cross-validation with new fold splits and network seeds. "
            "Results show the mean and standard deviation over repeats.")
        self.group_combo = QComboBox()
        self.group_combo.setToolTip(
            "Samples with equal values in this column always fall into the same fold. "
            "Replicates of one physical sample or one measuring day must never be split "
            "across train and test, or the errors come out too optimistic.")
        self.extra_targets_list = QListWidget()
        self.extra_targets_list.setToolTip(
            "Further numeric reference columns predicted together with the target "
            "(regression only): one network output and one PLS model per column.")
        self.extra_targets_list.setMaximumHeight(72)
        self.extra_targets_list.itemChanged.connect(self._on_extra_target_changed)
        self.extra_targets_note = QLabel()
        self.extra_targets_note.setWordWrap(True)
        self.device_combo = QComboBox()
        for value in DEVICE_CHOICES:
            self.device_combo.addItem(DEVICE_TEXTS.get(value, value), value)
        self.device_combo.setToolTip("Where the networks train.")

        for combo in (self.trunk_combo, self.cv_combo, self.group_combo, self.device_combo):
            # Long choices are elided instead of widening the page's left column.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)

        form = QFormLayout(self)
        form.setVerticalSpacing(4)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Maximum epochs:", self.epochs_spinbox)
        form.addRow(self.early_stopping_checkbox)
        form.addRow("Patience:", self.patience_spinbox)
        form.addRow("Validation split:", self.validation_spinbox)
        form.addRow("Learning rate:", self.learning_rate_spinbox)
        form.addRow("Batch size:", self.batch_size_spinbox)
        form.addRow("Trunk:", self.trunk_combo)
        form.addRow("Head:", self.head_units_spinbox)
        form.addRow("Cross-validation:", self.cv_combo)
        form.addRow("Folds:", self.folds_spinbox)
        form.addRow("Repeats:", self.repeats_spinbox)
        form.addRow("Group column:", self.group_combo)
        form.addRow("Further targets:", self.extra_targets_list)
        form.addRow(self.extra_targets_note)
        form.addRow("Device:", self.device_combo)

    # --- values --------------------------------------------------------------
    def settings(self) -> TransferSettings:
        """Return the settings entered; raises `SettingsError` for invalid values."""
        values = dict(self._loaded)
        group = self.group_combo.currentData()
        values.update(
            epochs=self.epochs_spinbox.value(),
            early_stopping=self.early_stopping_checkbox.isChecked(),
            patience=self.patience_spinbox.value(),
            validation_fraction=round(self.validation_spinbox.value() / 100, 4),
            learning_rate=self.learning_rate_spinbox.value(),
            batch_size=self.batch_size_spinbox.value(),
            freeze_trunk=bool(self.trunk_combo.currentData()),
            head_units=self.head_units_spinbox.value(),
            cv=self.cv_combo.currentData(),
            n_folds=self.folds_spinbox.value(),
            repeats=self.repeats_spinbox.value(),
            group_column=group if isinstance(group, str) else "",
            device=self.device_combo.currentData(),
        )
        return TransferSettings.from_dict(values)

    def load(self, values: dict) -> None:
        """Show `values` (`TransferSettings.to_dict()`; missing keys get defaults)."""
        merged = TransferSettings().to_dict()
        merged.update({k: v for k, v in values.items() if k in merged})
        self._loaded = merged
        self.epochs_spinbox.setValue(int(merged["epochs"]))
        self.early_stopping_checkbox.setChecked(bool(merged["early_stopping"]))
        self.patience_spinbox.setValue(int(merged["patience"]))
        self.validation_spinbox.setValue(100 * float(merged["validation_fraction"]))
        self.learning_rate_spinbox.setValue(float(merged["learning_rate"]))
        self.batch_size_spinbox.setValue(int(merged["batch_size"]))
        self.trunk_combo.setCurrentIndex(1 if merged["freeze_trunk"] else 0)
        self.head_units_spinbox.setValue(int(merged["head_units"]))
        self._select_data(self.cv_combo, merged["cv"])
        self.folds_spinbox.setValue(int(merged["n_folds"]))
        self.repeats_spinbox.setValue(int(merged["repeats"]))
        self._select_group(str(merged["group_column"] or ""))
        device = str(merged["device"])
        if self.device_combo.findData(device) < 0:
            self.device_combo.addItem(device, device)  # such as "cuda:1"
        self._select_data(self.device_combo, device)
        self._update_enabled()

    def set_columns(self, columns: list[str], numeric_columns: list[str], target: str | None,
                    task: str, extra_targets: list[str]) -> None:
        """Offer the data set's reference columns as group column and further targets."""
        group = self.group_combo.currentData() or str(self._loaded.get("group_column") or "")
        self.group_combo.blockSignals(True)
        self.group_combo.clear()
        self.group_combo.addItem(NO_GROUP, "")
        for column in columns:
            self.group_combo.addItem(column, column)
        self.group_combo.blockSignals(False)
        self._select_group(group)

        self.extra_targets_list.blockSignals(True)
        self.extra_targets_list.clear()
        candidates = [c for c in numeric_columns if c != target]
        if task == "regression":
            for column in candidates:
                item = QListWidgetItem(column)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                checked = column in extra_targets
                item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
                self.extra_targets_list.addItem(item)
        self.extra_targets_list.blockSignals(False)
        if task != "regression":
            note = "Further targets apply to regression only."
        elif not candidates:
            note = "No other numeric reference column to predict with the target."
        else:
            note = ""
        self.extra_targets_note.setText(note)
        self.extra_targets_note.setVisible(bool(note))
        self.extra_targets_list.setVisible(bool(candidates) and task == "regression")

    def extra_targets(self) -> list[str]:
        """Return the further targets checked, in column order."""
        checked = []
        for row in range(self.extra_targets_list.count()):
            item = self.extra_targets_list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                checked.append(item.text())
        return checked

    def set_extra_targets(self, columns: list[str]) -> None:
        """Check exactly the further targets in `columns`."""
        for row in range(self.extra_targets_list.count()):
            item = self.extra_targets_list.item(row)
            item.setCheckState(
                Qt.CheckState.Checked if item.text() in columns else Qt.CheckState.Unchecked)

    # --- helpers -------------------------------------------------------------
    @staticmethod
    def _select_data(combo: QComboBox, value) -> None:
        index = combo.findData(value)
        if index >= 0:
            combo.setCurrentIndex(index)

    def _select_group(self, column: str) -> None:
        index = self.group_combo.findData(column)
        if index < 0 and column:
            # A stored group column that the data set lacks stays visible, so the
            # engine's message about it names the column.
            self.group_combo.addItem(f"{column} (not in the data)", column)
            index = self.group_combo.count() - 1
        self.group_combo.setCurrentIndex(max(index, 0))

    @Slot()
    def _update_enabled(self, _value=None) -> None:
        early = self.early_stopping_checkbox.isChecked()
        self.patience_spinbox.setEnabled(early)
        self.validation_spinbox.setEnabled(early)
        self.folds_spinbox.setEnabled(self.cv_combo.currentData() != "loo")

    @Slot(QListWidgetItem)
    def _on_extra_target_changed(self, _item: QListWidgetItem) -> None:
        self.extra_targets_changed.emit(self.extra_targets())
