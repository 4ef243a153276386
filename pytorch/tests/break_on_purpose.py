"""Breaks the package on purpose, one change at a time, and runs the test that must then fail:
each test of scripts/pytorch_test.sh is seen to catch a real mistake. Restores every file.
Usage (repository root): python3 pytorch/tests/break_on_purpose.py   (about 5 minutes on 2 cores)"""
import os
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
os.chdir(ROOT)
M = [
 ("pytorch/cnnscope_torch/run.py", '"step": torch.tensor(float(steps))', '"step": torch.tensor(float(steps + 1))', "test_exact.OneStep.test_adam"),
 ("pytorch/cnnscope_torch/run.py", 'opt.state[p] = {"momentum_buffer"', 'opt.state[p] = {"momentum_buffer_off"', "test_exact.OneStep.test_sgd_with_momentum"),
 ("pytorch/cnnscope_torch/augment.py", "r0 & 1", "r1 & 1", "test_exact.OneStep.test_adam_with_weight_decay_and_augmentation"),
 ("pytorch/cnnscope_torch/run.py", "        if dist.rank == 0:\n            print(line", "        if True:\n            print(line", "test_journey.Journey.test_cnnscope_then_torchrun_then_cnnscope"),
 ("pytorch/cnnscope_torch/run.py", "per = batch // dist.world", "per = batch", "test_journey.Journey.test_two_processes_train_as_one"),
 ("pytorch/cnnscope_torch/run.py", "    if batch % dist.world:", "    if False:", "test_journey.Journey.test_a_batch_that_does_not_split_is_refused"),
 ("pytorch/cnnscope_torch/export.py", 'dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}', "", "test_export.Export.test_a_d2l_net_exports"),
 ("pytorch/cnnscope_torch/fashion_mnist.py", "    return x / 255.0", "    return x / 256.0", "test_export.Export.test_a_trained_design_exports_and_predicts_as_cnnscope"),
 ("pytorch/cnnscope_torch/checkpoint.py", '    if state["format"] != FORMAT:', '    if False:', "test_bad_input.BadInput.test_checkpoints_this_package_cannot_continue"),
 ("pytorch/cnnscope_torch/checkpoint.py", "        raise CheckpointError(\"it is not a safetensors file (shorter than 8 bytes)\")", "        pass", "test_bad_input.BadInput.test_files_that_are_not_checkpoints"),
 ("pytorch/cnnscope_torch/run.py", "for j in range(done, batches):", "for j in range(0, batches):", "test_journey.Journey.test_a_run_stopped_mid_epoch_finishes_its_epoch"),
 ("pytorch/cnnscope_torch/run.py", "f\"resume with --limit {state['train_images']}\"", "f\"use another limit\"", "test_bad_input.BadInput.test_settings_this_run_cannot_use"),
 ("pytorch/cnnscope_torch/checkpoint.py", "    if ckpt.adam:\n        for k, v in ckpt.second", "    if False:\n        for k, v in ckpt.second", "test_bad_input.BadInput.test_a_checkpoint_reads_and_writes_back_unchanged"),
 # Issue 33, item 9: the Python side as careful as the Rust side.
 ("pytorch/cnnscope_torch/run.py", "if same_file(args.save_checkpoint, args.resume) and", "if False and", "test_bad_input.BadInput.test_a_run_that_diverges_keeps_nothing"),
 ("pytorch/cnnscope_torch/run.py", "if not math.isfinite(total[0]):", "if False:", "test_bad_input.BadInput.test_a_run_that_diverges_keeps_nothing"),
 ("pytorch/cnnscope_torch/design.py", 'WHOLE = re.compile(r"\\+?[0-9]+")', 'WHOLE = re.compile(r"\\+?\\d+")', "test_bad_input.BadInput.test_digits_are_ascii_digits"),
 ("pytorch/cnnscope_torch/checkpoint.py", "    if not adam and any(", "    if False and any(", "test_bad_input.BadInput.test_an_sgd_checkpoint_with_adams_moments"),
 ("pytorch/cnnscope_torch/checkpoint.py", '        if dtype != "F32":', "        if False:", "test_bad_input.BadInput.test_weights_of_another_dtype"),
 ("pytorch/cnnscope_torch/checkpoint.py", "        raise\n    sync_directory(directory)", "        raise", "test_bad_input.BadInput.test_a_write_flushes_its_directory"),
 ("pytorch/cnnscope_torch/design.py", "MAX_DEPTH = 8 ", "MAX_DEPTH = 9 ", "test_designs.HostileDesigns.test_every_hostile_design_is_refused_in_one_line"),
 ("pytorch/cnnscope_torch/design.py", 'WHOLE = re.compile(r"\\+?[0-9]+")', 'WHOLE = re.compile(r"\\+?\\d+")', "test_designs.HostileDesigns.test_every_hostile_design_is_refused_in_one_line"),
 ("pytorch/cnnscope_torch/design.py", "    too_many(\"its output\", _dims(output))", "", "test_designs.HostileDesigns.test_the_command_line_refuses_them_in_one_line"),
 ("pytorch/cnnscope_torch/checkpoint.py", "    except (ValueError, RecursionError):  # JSONDecodeError", "    except json.JSONDecodeError:  # JSONDecodeError", "test_fuzz.Fuzz.test_checkpoints"),
]
env = dict(os.environ, OMP_NUM_THREADS="1")
env.setdefault("CNNSCOPE_BIN", os.path.join(ROOT, "target", "release", "cnnscope"))
env.setdefault("CNNSCOPE_DATA", os.path.join(ROOT, "public", "data", "fashion-mnist"))
survived = 0
for path, old, new, test in M:
    src = open(path).read()
    assert src.count(old) == 1, (path, old)
    open(path, "w").write(src.replace(old, new))
    try:
        p = subprocess.run([sys.executable, "-m", "unittest", test], cwd="pytorch/tests", env=env, capture_output=True, text=True)
    finally:
        open(path, "w").write(src)
    last = [l for l in p.stderr.splitlines() if l.startswith(("AssertionError", "FAILED", "OK", "Error", "ModuleNotFound", "TypeError", "ValueError", "KeyError"))]
    survived += p.returncode == 0
    print(("caught    " if p.returncode else "SURVIVED  ") + test, "|", " / ".join(last[-2:])[:300], flush=True)
sys.exit(1 if survived else 0)
