"""DSOCR desktop app (PySide6): see the tile plan before running, stream OCR, export.

The app reaches the engine only through `import engine`, gathered in `dsocr_app.engine_bridge`, and uses the
engine's own types (`Result`, `Region`, `TilePlan`, `Model`). Small parts with one job each, talking through
signals; the window composes them:

- `main`            the `dsocr-app` command: options (one line and exit 2 when bad), the display check
                    (`display_check`), scripted modes (`--screenshot`, `--run`) that never open a dialog.
- `app`             the QApplication: identity, files opened from the Dock/Finder, the clipboard left clean;
                    `qt_messages` filters Qt's own stderr chatter (harmless lines dropped, real ones said once).
- `window`          `MainWindow`: composition, what is shown (item and target), status and dialogs.
- `intake`          `Intake`: files, folders, PDF pages, pasted and dropped images into the queue; emits `added`.
- `plan_presenter`  `PlanPresenter`: plans the shown target, draws and sums up the plan, grid preview and choice.
- `region_tools`    `RegionCommands` (region targets added and removed) and `BoxLinks` (result boxes <-> text).
- `run_presenter`   `RunPresenter`: runs shown as they go (queue states, live stream, results); `runFinished`.
- `model_control`   `ModelControl`: the Choose-model dialog, loading and its progress; emits `ready`, `error`.
- `page_pane`       `PagePane`: target bar, the page or the drop area, plan summary; `main_splitter` the columns.
- `actions`         every command as data (`ACTIONS`), and where it appears (`MENUS`, `TOOLBAR`).
- `plan_options`    `PlanOptions` (frozen: version, mode, tile limits, task) and `PlanOptionsBar`, which edits
                    it and emits `changed(PlanOptions)` once per change.
- `run_queue`       `RunQueue`: waiting runs, the running one, the model and its loading; emits `started`,
                    `delta`, `finished`, `failed`. `worker` is its thread (`OcrWorker` owns the model).
- `queue_model`     the queue (items, their targets and states; inputs checked when added) and its `QueueView`.
- `target_bar`      whole image or region, region tool; `preview_view` the image with tiles and boxes;
                    `results_pane` text, rendered, raw and token table, with `tile_counts` (the tokens per
                    tile beside the text, and the tiles a result's boxes fall in); `regions` boxes <-> text.
- `exporting`       clipboard forms and file formats (`FILE_FORMATS`, data); `inputs` files, folders, mime.
- `export_actions`  copy, save and export-all commands with their dialogs; `status_bar` messages, model, progress.
- `settings`        typed QSettings; `settings_dialog` one tab per `SettingsSection` (`SECTIONS`).
- `model_dialog`, `about`, `sample`, `self_test`.

Extending: a command is a row in `actions.ACTIONS` plus a method of the window or of one of its parts (a dotted
slot); a file format an entry of `exporting.FILE_FORMATS`; a settings group a `SettingsSection` in
`settings_dialog.SECTIONS`; a panel about the shown item a widget added with `window.results.add_tab`; a new
source of images calls `window.add_image` (`Intake`); engine options of a run come from `MainWindow._prepare_run`,
those of a model load go in `RunQueue.load(source, options)`; model state and progress show in
`status_bar.StatusBar`.
"""

__version__ = "0.1.0"
