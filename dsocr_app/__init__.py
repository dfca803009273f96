"""DSOCR desktop app (PySide6): see the tile plan before running, stream OCR, export.

The app reaches the engine only through `import engine`, gathered in `dsocr_app.engine_bridge`, and uses the
engine's own types and rules (`Result`, `Region`, `TilePlan`, `Model`, `InputItem` naming and loading,
`unique_path`, `DEFAULT_DPI`, the option checks). Small parts with one job each; every piece of state has one
owner whose methods change it and whose signals say so, and the parts listen and call those methods (no part
writes another's fields or calls back into the window); the window builds the parts and connects them:

- `main`            the `dsocr-app` command: options (one line and exit 2 when bad), the display check
                    (`display_check`), scripted modes (`--screenshot`, `--run`) that never open a dialog.
- `app`             the QApplication: identity, files opened from the Dock/Finder, the clipboard left clean;
                    `qt_messages` filters Qt's own stderr chatter (harmless lines dropped, real ones said once).
- `window`          `MainWindow`: builds and connects the parts; its public methods are the app's commands for
                    scripts and tests, each handed to the part that does it.
- `queue_model`     `QueueModel`, the owner of the items and their targets: every change is one of its methods
                    (`add`, `remove`, `set_grid`, `set_task`, `set_text`, `add_region`, `remove_region`, `start`,
                    `token`, `rewind`, `finish`, `fail`) and is signalled (`stateChanged`, `targetChanged`,
                    `targetsChanged`, `streamed`, `rewound`, Qt's row signals); inputs are checked when added.
                    `QueueView` is its list.
- `selection`       `Selection`, the owner of what is shown (a row and one of its targets): `show_row`,
                    `show_target`; signals `itemShown`, `targetShown`, `rowShown`.
- `messages`        `Messages`, the owner of what was said: `report` (a problem, `last_error`, a dialog unless
                    `quiet`) and `notify`.
- `intake`          `Intake`: files, folders, PDF pages, pasted, dropped and captured images into the queue;
                    emits `added`.
- `shown_presenter` `ShownPresenter`: the shown page, targets, plan and result (or live stream), following the
                    selection and the queue; emits `titleChanged`, `resultShown`.
- `plan_presenter`  `PlanPresenter`: plans the shown target, draws and sums up the plan, grid preview and choice;
                    emits `planShown`, `planChanged`.
- `documents`       whole documents (Unlimited-OCR: a PDF as one item, its pages its targets): the pages a run
                    loads, the whole result, page breaks, the token budget; `document_presenter`
                    `DocumentPresenter` shows the budget of a document shown beside its text.
- `region_tools`    `RegionCommands` (region targets added and removed), `PageMenu` (the page's context menu)
                    and `BoxLinks` (result boxes <-> text).
- `run_presenter`   `RunPresenter`: the RunQueue's runs handed to the queue model, told in the status bar;
                    `runFinished`. `run_commands` `RunCommands`: run, run all, cancel, remove (a model loaded
                    first when none is). `run_setup` `RunSetup`: a run's image and its one `engine.RunOptions`
                    (options bar + settings + the session's token limit) when its turn comes.
- `action_states`   `ActionStates`: the one place actions are enabled, from the selection, plan, queue and runs.
- `model_control`   `ModelControl`: the Choose-model dialog, loading and its progress; emits `ready`, `error`.
- `page_pane`       `PagePane`: target bar, the page or the drop area, plan summary; `main_splitter` the columns.
- `actions`         every command as data (`ACTIONS`), where it appears (`MENUS`, `TOOLBAR`); `bind_actions`
                    binds each to a callable.
- `plan_options`    `PlanOptions` (frozen: version, mode, tile limits, task; checked by the engine's checks) and
                    `PlanOptionsBar`, which edits it and emits `changed(PlanOptions)` once per change.
- `run_queue`       `RunQueue`: waiting runs, the running one, the model and its loading; emits `started`,
                    `delta`, `finished`, `failed`. `worker` is its thread (`OcrWorker` owns the model).
- `target_bar`      whole image or region, region tool; `preview_view` the image with tiles and boxes;
                    `results_pane` text, rendered, raw and token table, with `tile_counts` (the tokens per
                    tile beside the text, and the tiles a result's boxes fall in); `regions` boxes <-> text.
- `exporting`       clipboard forms and file formats (`FILE_FORMATS`, data); `queue_export` and `pdf_export` the
                    whole queue; `inputs` files, folders, mime.
- `export_actions`  copy, save and export-all commands with their dialogs; `status_bar` messages, model, progress.
- `settings`        typed QSettings; `settings_dialog` one tab per `SettingsSection` (`settings_section`,
                    listed in `SECTIONS`).
- `capture`         screen capture (`CaptureController`, through `capture.link` the one place it talks to the
                    window), the tray and the running instance.
- `history`         `CaptureHistory`, the owner of the capture history (`history_store`: Qt-free, SQLite and
                    PNGs in the data folder; `history_view` the History dock; `history_settings` retention and
                    its settings tab; `history_cli` `dsocr-app --history`).
- `local_api`       Settings > Local API: `dsocr serve`'s HTTP API served from the app's model, each request a
                    run of the queue (`ApiRequests`), the server started and stopped by `LocalApi`.
- `model_dialog`, `about`, `sample`, `self_test`.

Extending: a command is a row in `actions.ACTIONS` plus the callable the window binds it to in `_connect`; a
file format an entry of `exporting.FILE_FORMATS`; a settings group a `SettingsSection` in
`settings_dialog.SECTIONS`; a panel about the shown item a widget added with `window.results.add_tab` that
follows `window.selection`; a new source of images calls `window.add_image` (`Intake`); a change to items is a
new `QueueModel` method with its signal; engine options of a run come from `run_setup.RunSetup`, those of
a model load go in `RunQueue.load(source, options)`; model state and progress show in `status_bar.StatusBar`.
"""

__version__ = "0.1.0"
