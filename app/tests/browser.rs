//! The app's logic in a real browser on its WebGPU (`wasm-pack test --headless --chrome` in app/):
//! recipes, the fit warning, the data location, picked files, and a drawing through a network.
#![cfg(target_arch = "wasm32")]

use cnnscope::Device;
use cnnscope::model::{Init, Model};
use cnnscope::net::{Arch, Summary};
use cnnscope_app::worker::inspect;
use cnnscope_app::protocol::{Command, Event, Notes};
use cnnscope_app::page::dataset;
use cnnscope_app::setup::{self, Setup};
use wasm_bindgen_test::wasm_bindgen_test;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn every_default_setup_is_a_valid_network() {
    for arch in Arch::ALL {
        let setup = Setup::for_net(arch.clone());
        let summary = Summary::new(&setup.net().unwrap()).unwrap();
        assert!(summary.params > 0 && setup.batch > 0 && setup.lr > 0.0, "{arch}");
        // Written out as a design, the same network.
        assert_eq!(setup.clone().as_own().net().unwrap().root, setup.net().unwrap().root, "{arch} as a design");
    }
    let impossible = Setup { side: 20, ..Setup::for_net(Arch::Nin) };
    assert_eq!(impossible.net().unwrap_err(), "NiN: needs an input side of at least 67, got 20");
}

const BAD_INPUT: &str = include_str!("../../docs/BAD_INPUT.md");

/// The input gives `message` and docs/BAD_INPUT.md's table has the row (as tests/bad_input.rs).
fn check(input: &str, message: &str) {
    let row = format!("| {input} | {message} |");
    assert!(BAD_INPUT.contains(&row), "docs/BAD_INPUT.md's table lacks the row\n{row}");
}

#[wasm_bindgen_test]
async fn a_batch_too_big_for_the_adapter_runs_in_micro_batches_and_what_never_fits_is_explained() {
    let gpu = Device::gpu().await.unwrap();
    let setup = Setup { ratio: 1, side: 224, batch: 128, ..Setup::for_net(Arch::AlexNet) };
    let fit = setup::check(gpu.capacity(), &Setup { batch: 8, ..setup.clone() }).unwrap();
    assert!(!fit.micro.is_split() && fit.describe().ends_with(" of memory to train at batch 8"), "{}", fit.describe());
    // A batch whose input alone is 186.9 GiB: each step in as many micro-batches as the adapter needs.
    let fit = setup::check(gpu.capacity(), &Setup { batch: 1_000_000, ..setup.clone() }).unwrap();
    let words = fit.describe();
    assert!(fit.micro.is_split() && words.contains(" of memory to train at batch 1000000, each step in "), "{words}");
    assert!(words.ends_with(" (this adapter binds too little for the whole batch at once)"), "{words}");
    // At a 128 MiB binding (WebGPU's default) d2l's NiN recipe takes two of 64.
    let nin = Setup { ratio: 1, side: 224, batch: 128, ..Setup::for_net(Arch::Nin) };
    let small = cnnscope::engine::device::Capacity::Gpu { max_binding: 128 << 20, host: Some(4 << 30) };
    assert_eq!(setup::check(small, &nin).unwrap().micro.describe(), "2 micro-batches of 64");
    // What not even one image fits is refused with the reason: a parameter past the binding...
    let warning = setup::check(gpu.capacity(), &Setup { side: 1024, ..setup.clone() }).unwrap_err();
    assert!(warning.starts_with("parameter fc.0.weight needs 3.5 GiB, but this GPU binds at most"), "{warning}");
    // ... and on the CPU engine the whole run against its budget (wasm32's 4 GiB here), in its words.
    let warning = setup::check(Device::cpu().capacity(), &Setup { side: 1024, ..setup }).unwrap_err();
    assert!(warning.starts_with("training at batch 128 in micro-batches of 1 needs"), "{warning}");
    assert!(warning.contains("but cnnscope gives one run at most 4.0 GiB of memory on the CPU engine: lower the side or raise the width ratio"), "{warning}");
}

#[wasm_bindgen_test]
fn knobs_say_what_they_cannot_use() {
    let cases = [
        ("width ÷ `abc`", setup::whole("abc", 1..=cnnscope::net::MAX_RATIO)),
        ("side `5000`", setup::whole("5000", 1..=cnnscope::net::MAX_SIDE)),
        ("batch `-3`", setup::whole("-3", 1..=1_000_000)),
        ("epochs `0`", setup::whole("0", 1..=10_000)),
    ];
    let expected = [
        "«abc» is not a whole number from 1 to 4096",
        "«5000» is not a whole number from 1 to 1024",
        "«-3» is not a whole number from 1 to 1000000",
        "«0» is not a whole number from 1 to 10000",
    ];
    for ((input, got), message) in cases.into_iter().zip(expected) {
        assert_eq!(got.unwrap_err(), message);
        check(input, message);
    }
    for (text, message) in [
        ("0", "learning rate: 0 is not a finite positive number; d2l trains these nets with 0.001 (Adam) or 0.01–0.1 (SGD)"),
        ("NaN", "learning rate: NaN is not a finite positive number; d2l trains these nets with 0.001 (Adam) or 0.01–0.1 (SGD)"),
        ("abc", "«abc» is not a number"),
    ] {
        assert_eq!(setup::learning_rate(text).unwrap_err(), message);
        check(&format!("learning rate `{text}`"), message);
    }
    assert_eq!(setup::learning_rate(" 0.01 ").unwrap(), 0.01);
}

#[wasm_bindgen_test]
fn url_parameters_are_checked() {
    assert_eq!(dataset::parse_limit("?limit=320&x=1"), Ok(Some(320)));
    assert_eq!(dataset::parse_limit(""), Ok(None));
    for value in ["abc", "0", "-1"] {
        let message = dataset::parse_limit(&format!("?limit={value}")).unwrap_err();
        assert_eq!(message, format!("the address asks for ?limit={value}, which is not a whole number of images (1 or more): fix it or remove it"));
        check(&format!("`?limit={value}`"), &message);
    }
}

/// The data comes from beside the page, or from `?data=` on the page's own site; another site
/// (absolute or protocol-relative) is refused with the rule's message, and the worker's fetch
/// refuses another origin itself, before any request.
#[wasm_bindgen_test]
async fn the_data_is_fetched_from_this_site_only() {
    let page = "http://127.0.0.1:8080/app/index.html?x=1";
    assert_eq!(dataset::data_url("", page), Ok("http://127.0.0.1:8080/app/data/fashion-mnist/".into()));
    assert_eq!(dataset::data_url("?data=mirror/fm/", page), Ok("http://127.0.0.1:8080/app/mirror/fm/".into()));
    assert_eq!(dataset::data_url("?data=/fm", page), Ok("http://127.0.0.1:8080/fm/".into()));
    let other = dataset::data_url("?data=https://elsewhere.example/x/", page).unwrap_err();
    assert_eq!(other, "the address asks for data=https://elsewhere.example/x/, which is on another site: only files from this site are opened");
    check("`?data=https://elsewhere.example/x/`", &other);
    assert!(dataset::data_url("?data=//elsewhere.example/x", page).unwrap_err().ends_with("which is on another site: only files from this site are opened"));
    let fetched = cnnscope_app::worker::data::fetch("https://elsewhere.example/x/train-images-idx3-ubyte.gz", 1e6, &|_, _| {}).await.unwrap_err();
    assert_eq!(fetched, "https://elsewhere.example/x/train-images-idx3-ubyte.gz: is not on this site: only files from this site are fetched");
}

#[wasm_bindgen_test]
async fn picked_files_are_checked() {
    let transfer = web_sys::DataTransfer::new().unwrap();
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(&b"not gzip"[..]));
    let file = web_sys::File::new_with_u8_array_sequence(&parts, "train-images-idx3-ubyte.gz").unwrap();
    transfer.items().add_with_file(&file).unwrap();
    let err = dataset::read_picked(transfer.files().unwrap()).await.unwrap_err();
    assert_eq!(err, "pick all four files; missing train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz");
}

#[wasm_bindgen_test]
async fn a_drawing_goes_through_every_layer_on_the_gpu() {
    a_drawing_goes_through_every_layer(&Device::gpu().await.unwrap()).await;
}

/// The same on the CPU engine, which a browser without WebGPU (or with a software one) runs.
#[wasm_bindgen_test]
async fn a_drawing_goes_through_every_layer_on_the_cpu_engine() {
    a_drawing_goes_through_every_layer(&Device::cpu()).await;
}

async fn a_drawing_goes_through_every_layer(gpu: &Device) {
    let net = Setup { ratio: 16, side: 67, ..Setup::for_net(Arch::AlexNet) }.net().unwrap();
    let model = Model::new(gpu, net, Init::Default, 1).unwrap();
    let pixels: Vec<u8> = (0..28 * 28).map(|i| if (i / 28) % 7 < 3 { 220 } else { 0 }).collect();
    let inspection = inspect::inspect_pixels(gpu, &model, pixels).await.unwrap();
    let (layers, probs) = (&inspection.layers, &inspection.probs);
    assert_eq!(inspection.label, None, "a drawing has no label");
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["input", "conv.0", "conv.2", "conv.3", "conv.5", "conv.6", "conv.8", "conv.10", "conv.12", "fc.0", "fc.3", "fc.6"]);
    assert_eq!(layers[0].shape, [1, 67, 67]);
    assert!(layers[0].values.iter().any(|&v| v > 0.5), "the drawing reaches the input");
    assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);

    // An image number past the test set is refused, not replaced by image 0.
    let split = cnnscope::data::Split {
        images: cnnscope::data::Images { count: 1, rows: 28, cols: 28, pixels: vec![0; 784] },
        labels: vec![0],
    };
    let one = split.upload(gpu).unwrap();
    let err = inspect::inspect(gpu, &model, &one, 5).await.err().unwrap();
    assert_eq!(err, "there is no test image #5: the test set has 1 images, #0 to #0");
    check("test image `5` of 1", &err);
}

/// The page and the worker exchange bincode (gloo-worker's codec): every setup of the four nets
/// crosses intact, and so does a run's notes.
#[wasm_bindgen_test]
fn messages_cross_the_worker_boundary_intact() {
    for setup in Arch::ALL.into_iter().flat_map(|a| [Setup::for_net(a.clone()), Setup::for_net(a).as_own()]) {
        let setup = Setup { seed: u64::MAX, lr: 0.125, ..setup };
        let bytes = bincode::serialize(&Command::Start { setup: setup.clone(), from_loaded: true }).unwrap();
        let Command::Start { setup: back, from_loaded } = bincode::deserialize(&bytes).unwrap() else { panic!("not a start") };
        assert_eq!((back, from_loaded), (setup, true));
    }
    let notes = Notes { name: "run".into(), loss: vec![(5.0, 2.25)], epoch_lines: vec!["epoch 1".into()], seen: (1.0, 2.0, 3.0), ..Notes::default() };
    let event = Event::Run { run: 7, setup: Setup::for_net(Arch::Nin), notes: notes.clone(), weights_only: false };
    let Event::Run { run, notes: back, .. } = bincode::deserialize(&bincode::serialize(&event).unwrap()).unwrap() else { panic!("not a run") };
    assert_eq!((run, back), (7, notes));
}

/// On the browser's WebGPU too, a step split into one submission per dispatch (the tiniest
/// budget) gives the same losses and weights, bit for bit, as the whole step. (The page splits
/// steps by measured time, `Trainer::fit_submits`; on SwiftShader its steps already go in several.)
#[wasm_bindgen_test]
async fn a_split_step_equals_the_whole_one_in_the_browser() {
    use cnnscope::train::{TrainConfig, Trainer};
    let gpu = Device::gpu().await.unwrap();
    let images = cnnscope::data::Images { count: 64, rows: 28, cols: 28, pixels: (0..64 * 784).map(|i| (i * 37 % 251) as u8).collect() };
    let split = cnnscope::data::Split { images, labels: (0..64).map(|i| (i % 10) as u8).collect() };
    let setup = Setup { ratio: 16, side: 67, batch: 16, ..Setup::for_net(Arch::AlexNet) };
    let trainer = |pieces: usize| {
        let model = Model::new(&gpu, setup.net().unwrap(), Init::Default, 3).unwrap();
        let config = TrainConfig { batch: setup.batch, optimizer: setup.optimizer(), seed: 11, augment: false };
        let mut t = Trainer::new(&gpu, model, split.upload(&gpu).unwrap(), config).unwrap();
        t.split_submits(pieces);
        t
    };
    let mut losses = Vec::new();
    let mut weights = Vec::new();
    for pieces in [1, usize::MAX] {
        let mut t = trainer(pieces);
        t.reset_stats(&gpu).unwrap();
        let mut run = Vec::new();
        for _ in 0..3 {
            t.step(&gpu).unwrap();
            run.push((t.stats(&gpu).await.unwrap().loss_sum as f32).to_bits());
        }
        losses.push(run);
        weights.push(t.model.params.read(&gpu).await.unwrap().concat().iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }
    assert_eq!(losses[0], losses[1], "the same losses");
    assert!(weights[0] == weights[1], "the same weights, bit for bit");
}

/// Training and resuming in the browser, on each engine: four steps in one go equal two steps, a
/// checkpoint written to bytes and read back, and two more in a new trainer — the losses and the
/// weights bit for bit; and a checkpoint written on the CPU engine resumes on the WGSL engine (and
/// back) with its next loss within rounding of the run that stayed.
#[wasm_bindgen_test]
async fn a_run_resumes_exactly_on_each_engine_and_across_them_in_the_browser() {
    use cnnscope::train::{Checkpoint, TrainConfig, Trainer};
    let engines = [Device::gpu().await.unwrap(), Device::cpu()];
    let images = cnnscope::data::Images { count: 64, rows: 28, cols: 28, pixels: (0..64 * 784).map(|i| (i * 37 % 251) as u8).collect() };
    let split = cnnscope::data::Split { images, labels: (0..64).map(|i| (i % 10) as u8).collect() };
    let setup = Setup { ratio: 16, side: 67, batch: 16, ..Setup::for_net(Arch::AlexNet) };
    let config = TrainConfig { batch: setup.batch, optimizer: setup.optimizer(), seed: 11, augment: true };
    let fresh = |device: &Device| {
        let model = Model::new(device, setup.net().unwrap(), Init::Default, 3).unwrap();
        let t = Trainer::new(device, model, split.upload(device).unwrap(), config).unwrap();
        t.reset_stats(device).unwrap();
        t
    };
    async fn steps(t: &mut Trainer, device: &Device, n: usize) -> Vec<u32> {
        let mut losses = Vec::new();
        for _ in 0..n {
            t.step(device).unwrap();
            losses.push((t.stats(device).await.unwrap().loss_sum as f32).to_bits());
        }
        losses
    }
    async fn weights(t: &Trainer, device: &Device) -> Vec<u32> {
        t.model.params.read(device).await.unwrap().concat().iter().map(|x| x.to_bits()).collect()
    }
    let mut halfway = Vec::new();
    for device in &engines {
        let mut whole = fresh(device);
        let all = steps(&mut whole, device, 4).await;
        let mut first = fresh(device);
        let mut resumed_losses = steps(&mut first, device, 2).await;
        let bytes = first.checkpoint(device, 1, String::new()).await.unwrap().to_bytes().unwrap();
        let mut resumed = Trainer::resume(device, &Checkpoint::from_bytes(&bytes).unwrap(), split.upload(device).unwrap()).unwrap();
        resumed_losses.extend(steps(&mut resumed, device, 2).await);
        assert_eq!(resumed_losses, all, "{}: the same losses", device.name());
        assert!(weights(&resumed, device).await == weights(&whole, device).await, "{}: the same weights, bit for bit", device.name());
        halfway.push((bytes, f32::from_bits(all[2])));
    }
    // Across engines: each engine's checkpoint taken by the other, one step on.
    for (i, device) in engines.iter().enumerate() {
        let (bytes, _) = &halfway[1 - i];
        let mut moved = Trainer::resume(device, &Checkpoint::from_bytes(bytes).unwrap(), split.upload(device).unwrap()).unwrap();
        let next = f32::from_bits(steps(&mut moved, device, 1).await[0]);
        let stayed = halfway[1 - i].1;
        assert!((next - stayed).abs() <= 1e-3 * stayed.abs(), "{}: {next} after moving, {stayed} where it stayed", device.name());
    }
}

/// A setup in the address (`share`): every net's setup, knobs changed, survives the round trip
/// through the query string, other parameters kept; bad values get the knob's own message.
#[wasm_bindgen_test]
fn a_setup_lives_in_the_address() {
    use cnnscope_app::page::share::{query_with, setup_from_query, weights_url};
    for setup in Arch::ALL.into_iter().flat_map(|a| [Setup::for_net(a.clone()), Setup::for_net(a).as_own()]) {
        let setup = Setup { ratio: 5, side: 101, batch: 7, adam: false, lr: 0.0625, epochs: 3, seed: 42, augment: true, ..setup };
        let query = query_with("?limit=320&data=x%2Fy", &setup);
        assert!(query.starts_with("?limit=320&data=x%2Fy&net="), "{query}");
        assert_eq!(setup_from_query(&query), Ok(Some(setup)), "{query}");
    }
    assert_eq!(setup_from_query("?limit=320"), Ok(None), "no setup in the address: the defaults");
    assert_eq!(setup_from_query("?net=nin"), Ok(Some(Setup::for_net(Arch::Nin))), "a net alone: its recipe");
    for (query, message) in [
        ("?side=5000", "the address asks for side=5000: «5000» is not a whole number from 1 to 1024"),
        ("?net=lenet", "the address asks for net=lenet: unknown network \"lenet\": choose alexnet, vgg11, nin or googlenet"),
        ("?optimizer=rmsprop", "the address asks for optimizer=rmsprop: choose adam or sgd"),
        ("?augment=yes", "the address asks for augment=yes: say true or false"),
        ("?net=own", "the address asks for net=own: the address gives no design="),
    ] {
        assert_eq!(setup_from_query(query), Err(message.to_string()));
        check(&format!("`{query}`"), message);
    }
    let page = "http://127.0.0.1:8080/index.html?x=1";
    assert_eq!(weights_url("?weights=runs/a.safetensors", page), Some(Ok("http://127.0.0.1:8080/runs/a.safetensors".into())));
    assert_eq!(weights_url("?limit=3", page), None);
    let other = weights_url("?weights=https://example.com/w.safetensors", page).unwrap().unwrap_err();
    assert_eq!(other, "the address asks for weights=https://example.com/w.safetensors, which is on another site: only files from this site are opened");
    check("`?weights=https://example.com/w.safetensors`", &other);
}

/// The one rule for what the address fetches (`site`): a page with no site of its own (`file://`,
/// origin "null") fetches nothing by address, though a `data:` URL's origin is "null" too; a
/// served page fetches its own site's files only.
#[wasm_bindgen_test]
fn a_page_from_a_file_fetches_nothing_by_address() {
    use cnnscope_app::page::share::weights_url;
    use cnnscope_app::site::{on_this_site, same_site};
    let page = "file:///home/u/cnnscope/dist/index.html";
    for path in ["data:application/octet-stream;base64,AAAA", "w.safetensors", "file:///etc/passwd", "blob:null/1234"] {
        let refused = weights_url(&format!("?weights={path}"), page).unwrap().unwrap_err();
        assert!(refused.contains("this page was opened from a file, not a site: it fetches nothing by address"), "{refused}");
        if path.starts_with("data:") {
            check(&format!("`?weights={path}` on file://"), &refused);
        }
    }
    assert!(on_this_site("data", "data/fashion-mnist/", page).is_err());
    assert!(!same_site("null", "null"), "two opaque origins are not one site");
    assert!(!same_site("file://", "file://"), "nor two files (Chromium's spelling of a file's origin)");
    let data_page = weights_url("?weights=https://example.com/w.safetensors", "data:text/html,<p>cnnscope</p>").unwrap().unwrap_err();
    assert!(data_page.contains("fetches nothing by address"), "a data: page has no site either: {data_page}");
    assert!(same_site("http://127.0.0.1:8080", "http://127.0.0.1:8080"));
    let served = "http://127.0.0.1:8080/index.html";
    let data = weights_url("?weights=data:application/octet-stream;base64,AAAA", served).unwrap().unwrap_err();
    assert!(data.ends_with("which is on another site: only files from this site are opened"), "{data}");
}

/// A device lost under a readback: the browser rejects the read in flight before it resolves the
/// device's `lost` promise, so the failure alone does not say "lost"; the worker waits for the
/// notice (`session::lost_behind`) and reopens the run instead of showing "failed: reading
/// results back".
#[wasm_bindgen_test]
async fn a_device_lost_under_a_readback_is_known_as_lost() {
    let device = std::rc::Rc::new(Device::gpu().await.unwrap());
    let tensor = cnnscope::Tensor::from_f32(&device, &[4], &[1.0, 2.0, 3.0, 4.0], "x").unwrap();
    assert_eq!(tensor.read_f32(&device).await.unwrap(), [1.0, 2.0, 3.0, 4.0]);
    // Destroyed while the read waits for its mapping (the read is polled first, up to its wait).
    let doomed = device.clone();
    wasm_bindgen_futures::spawn_local(async move { doomed.gpu_ref().unwrap().destroy() });
    let failed = tensor.read_f32(&device).await;
    assert!(failed.is_err(), "a destroyed device reads nothing back");
    // The race this test is about: the read failed before the loss was announced.
    assert!(device.lost().is_none(), "the loss was known before the read failed ({failed:?}): nothing to wait for");
    let lost = cnnscope_app::worker::session::lost_behind(&device).await;
    assert!(lost.as_deref().is_some_and(|r| r.starts_with("destroyed")), "{lost:?}");
    // The CPU engine is never lost: its failures are what they say, at once.
    assert_eq!(cnnscope_app::worker::session::lost_behind(&Device::cpu()).await, None);
}

/// "Keep the last N runs": the newest N stay, and so do the spared ones (the run on screen, runs
/// open in a tab) however old; the rest are deleted from the browser's storage, and so are keeps
/// cut short (a tab closed mid-write) of runs no tab has open. Where the browser cannot say which
/// runs are open, nothing is deleted (issue 33.6).
#[wasm_bindgen_test]
async fn pruning_keeps_the_newest_runs_and_the_spared_ones() {
    use cnnscope_app::runs;
    // Names sort by age (they start with the time a run began): "c" is the newest.
    for name in ["9999-prune-a", "9999-prune-b", "9999-prune-c"] {
        runs::save(name, name.as_bytes()).await.unwrap();
    }
    // Two keeps cut short: one of a run open in a tab (it may be writing), one of a closed run.
    for file in ["9999-prune-a.ckpt.0badc0de.partial", "9999-prune-b.ckpt.0000beef.partial"] {
        leave_partial(file).await;
    }
    assert_eq!(runs::partials().await.unwrap().len(), 2);
    let unknown = runs::prune(Some(1), None).await.unwrap_err();
    assert_eq!(unknown, "this browser cannot say which runs other tabs have open, so no run was deleted");
    assert_eq!(runs::names().await.unwrap().len(), 3, "nothing deleted where the open runs are unknown");
    assert_eq!(runs::prune(None, None).await, Ok(vec![]), "nor cut-short keeps");
    assert_eq!(runs::partials().await.unwrap().len(), 2);
    let deleted = runs::prune(None, Some(&["9999-prune-a".to_string()])).await.unwrap();
    assert_eq!(deleted, ["a keep of 9999-prune-b cut short"], "without a limit, only the closed run's cut-short keep");
    let deleted = runs::prune(Some(1), Some(&["9999-prune-a".to_string()])).await.unwrap();
    assert!(deleted.contains(&"9999-prune-b".to_string()), "{deleted:?}");
    let left = runs::names().await.unwrap();
    assert_eq!(left, ["9999-prune-c", "9999-prune-a"], "the newest and the spared one stay");
    assert_eq!(runs::partials().await.unwrap(), [("9999-prune-a".to_string(), "9999-prune-a.ckpt.0badc0de.partial".to_string())]);
    // Nothing set aside, the newest alone stays.
    runs::prune(Some(1), Some(&[])).await.unwrap();
    assert_eq!(runs::names().await.unwrap(), ["9999-prune-c"]);
    assert_eq!(runs::partials().await.unwrap(), []);
    runs::remove("9999-prune-c").await.unwrap();
}

/// A keep cut short: its temporary file left in the runs' directory.
async fn leave_partial(file: &str) {
    use wasm_bindgen::JsCast;
    use wasm_bindgen_futures::JsFuture;
    let storage = web_sys::window().unwrap().navigator().storage();
    let root: web_sys::FileSystemDirectoryHandle = JsFuture::from(storage.get_directory()).await.unwrap().unchecked_into();
    let dir: web_sys::FileSystemDirectoryHandle = JsFuture::from(root.get_directory_handle("runs")).await.unwrap().unchecked_into();
    let options = web_sys::FileSystemGetFileOptions::new();
    options.set_create(true);
    JsFuture::from(dir.get_file_handle_with_options(file, &options)).await.unwrap();
}

/// Issue 33.6: where the browser cannot lock (no Web Locks), no run counts as free.
#[wasm_bindgen_test]
async fn without_web_locks_every_run_is_taken() {
    use cnnscope_app::lock;
    assert_eq!(lock::acquire("9999-locks-a").await, Some(true));
    assert!(lock::open_anywhere().await.is_some_and(|open| open.contains(&"9999-locks-a".to_string())));
    lock::release("9999-locks-a");
    let navigator = web_sys::window().unwrap().navigator();
    let hidden = js_sys::Object::new();
    js_sys::Reflect::set(&hidden, &"value".into(), &wasm_bindgen::JsValue::UNDEFINED).unwrap();
    js_sys::Reflect::set(&hidden, &"configurable".into(), &true.into()).unwrap();
    js_sys::Object::define_property(&navigator, &"locks".into(), &hidden);
    let (acquired, open) = (lock::acquire("9999-locks-b").await, lock::open_anywhere().await);
    js_sys::Reflect::delete_property(&navigator, &"locks".into()).unwrap();
    assert_eq!(acquired, None, "no lock, and no answer that it is free");
    assert_eq!(open, None, "unknown, not \"none open\"");
    assert!(lock::open_anywhere().await.is_some(), "the browser's own locks are back");
}

/// The no-WebGPU advice is right for each browser and system (user agents as the browsers send them).
#[wasm_bindgen_test]
fn webgpu_advice_fits_the_browser() {
    use cnnscope_app::page::webgpu::advice;
    let firefox_linux = "Mozilla/5.0 (X11; Linux x86_64; rv:153.0) Gecko/20100101 Firefox/153.0";
    let firefox_windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:153.0) Gecko/20100101 Firefox/153.0";
    let chrome_linux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
    let chrome_android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36";
    let safari = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.6 Safari/605.1.15";
    assert!(advice(firefox_linux).contains("about:config set dom.webgpu.enabled and gfx.webgpu.ignore-blocklist to true"));
    assert!(advice(firefox_windows).contains("from version 141: update Firefox"));
    assert!(advice(chrome_linux).contains("chrome://flags/#enable-unsafe-webgpu (or start it with --enable-unsafe-webgpu)"));
    assert!(advice(chrome_android).contains("from version 113"), "Android is not desktop Linux");
    assert!(advice(safari).contains("Develop → Feature Flags → WebGPU"));
}

/// Every command gets one answer in every state (`worker::handle`): no data, no run, a failed
/// start, training, paused, finished, and after a lost GPU device. The worker runs in this thread,
/// its events collected; each command must be answered with one of the events that end it (its
/// result, a message, the run's next status, or `Nothing` with why) within a minute.
#[wasm_bindgen_test]
async fn every_command_is_answered_in_every_state() {
    use cnnscope_app::protocol::{Control, DataSource, Download, Image, Incoming, PickedFile, Status};
    use cnnscope_app::worker;
    use std::cell::RefCell;
    use std::rc::Rc;

    let events: Rc<RefCell<Vec<Event>>> = Rc::default();
    let sink = events.clone();
    worker::connect(move |e| sink.borrow_mut().push(e));
    // Sends `command` and waits for the first event that ends it.
    let ask = |command: Command, state: &'static str| {
        let events = events.clone();
        async move {
            let what = format!("{state}: {command:?}").chars().take(120).collect::<String>();
            let ends = ends(&command);
            let from = events.borrow().len();
            worker::handle(command);
            for _ in 0..600 {
                if let Some(answer) = events.borrow()[from..].iter().find(|e| ends(e)) {
                    return answer.clone();
                }
                gloo_timers::future::TimeoutFuture::new(100).await;
            }
            panic!("{what}: no answer in a minute; events since: {:?}", events.borrow()[from..].iter().map(|e| format!("{e:?}").chars().take(100).collect::<String>()).collect::<Vec<_>>());
        }
    };
    let run = || events.borrow().iter().rev().find_map(|e| if let Event::Run { run, .. } = e { Some(*run) } else { None }).unwrap_or(0);
    let design = "conv 4 k=3 p=1\nrelu\nglobal_avg_pool\nflatten\nlinear 10";
    let setup = |epochs: usize, batch: usize| Setup { arch: cnnscope::net::Arch::Own(design.into()), ratio: 1, side: 28, batch, epochs, ..Setup::for_net(Arch::AlexNet) };

    // The commands that leave the state as it is (or nearly: a file or kept run that does not
    // open changes nothing), sent in each state.
    // (A paused run's loop takes "time the next step" and answers after "resume": see "paused".)
    let each = |state: &'static str, run: u64| {
        let ask = &ask;
        let paused = matches!(state, "paused" | "device lost");
        async move {
            let garbage = || Command::OpenFile { name: "x.ckpt".into(), file: Incoming::Bytes(b"not a checkpoint".to_vec()), setup: setup(1, 16) };
            if !paused {
                ask(Command::TimeStep { run }, state).await;
            }
            for command in [
                Command::Prepare { setup: setup(1, 16) },
                Command::Keep,
                Command::SetLr { lr: 0.0005 },
                Command::Inspect(Image::Test(0)),
                Command::Explain { image: Image::Test(1), class: 3 },
                Command::Evaluate,
                Command::Download(Download::Weights),
                Command::Download(Download::Checkpoint),
                Command::Download(Download::Onnx),
                Command::OpenKept { name: "no-such-run".into() },
                garbage(),
            ] {
                ask(command, state).await;
            }
        }
    };

    assert!(matches!(ask(Command::OpenEngine { choice: cnnscope::Choice::Cpu, webgpu: true }, "start-up").await, Event::Adapter(Ok(_))));
    assert!(matches!(ask(Command::LoseDevice, "the CPU engine").await, Event::Nothing(_)), "no GPU device to lose, and it says so");
    each("no data", 0).await;
    ask(Command::Control { run: 1, control: Control::Pause }, "no data").await;
    let files = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];
    let picked = files.iter().zip([idx(2051, &[64, 28, 28]), idx(2049, &[64]), idx(2051, &[64, 28, 28]), idx(2049, &[64])]).map(|(name, bytes)| PickedFile { name: name.to_string(), bytes }).collect();
    assert!(matches!(ask(Command::LoadData { source: DataSource::Files(picked), limit: None }, "no data").await, Event::Data(Ok(_))));

    each("no run", 0).await;
    // 64 images make no batch of 128: the start fails.
    let failed = ask(Command::Start { setup: setup(1, 128), from_loaded: false }, "no run").await;
    assert!(matches!(failed, Event::Status { status: Status::Failed(_), .. }), "{failed:?}");
    each("failed start", run()).await;

    // Training: 4 steps an epoch, many epochs.
    assert!(matches!(ask(Command::Start { setup: setup(500, 16), from_loaded: false }, "failed start").await, Event::Status { status: Status::Running, .. }));
    let training = run();
    each("training", training).await;
    assert!(matches!(ask(Command::Control { run: training, control: Control::Run }, "training").await, Event::Nothing(_)), "already running");
    assert!(matches!(ask(Command::Control { run: training, control: Control::Pause }, "training").await, Event::Status { status: Status::Paused, .. }));

    each("paused", training).await;
    assert!(matches!(ask(Command::SetLr { lr: 0.002 }, "paused").await, Event::Message(Ok(_))), "a paused run takes a new rate");
    // Asked while paused, the step timed is the first after "resume".
    worker::handle(Command::TimeStep { run: training });
    assert!(matches!(ask(Command::Control { run: training, control: Control::Run }, "paused").await, Event::Status { status: Status::Running, .. }));
    assert!(matches!(ask(Command::TimeStep { run: training }, "training").await, Event::Timing { .. }));
    // Asked while paused and never taken (the run stops): answered when it stops.
    assert!(matches!(ask(Command::Control { run: training, control: Control::Pause }, "training").await, Event::Status { status: Status::Paused, .. }));
    let from = events.borrow().len();
    worker::handle(Command::TimeStep { run: training });
    assert!(matches!(ask(Command::Control { run: training, control: Control::Stop }, "paused").await, Event::Status { status: Status::Idle, .. }));
    gloo_timers::future::TimeoutFuture::new(500).await;
    assert!(events.borrow()[from..].iter().any(|e| matches!(e, Event::Nothing(why) if why.contains("no step to time"))), "the timing asked for is answered");

    // Issue 33.4: moving to another engine mid-run keeps the state that moves: it is the kept run
    // at once. (Without that the kept run is the last epoch's end, 16 steps of 4 images, or a
    // timed keep: this catches it unless the move falls on one.)
    assert!(matches!(ask(Command::Start { setup: setup(50, 4), from_loaded: false }, "stopped").await, Event::Status { status: Status::Running, .. }));
    let name = events.borrow().iter().rev().find_map(|e| if let Event::Run { notes, .. } = e { Some(notes.name.clone()) } else { None }).unwrap();
    let at_step = |n: u64| move |e: &Event| matches!(e, Event::Progress { progress, .. } if progress.steps >= n);
    for _ in 0..600 {
        if events.borrow().iter().any(at_step(5)) {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(10).await;
    }
    let moved = ask(Command::OpenEngine { choice: cnnscope::Choice::Cpu, webgpu: true }, "training mid-epoch").await;
    assert!(matches!(moved, Event::Adapter(Ok(_))), "{moved:?}");
    let moved = ask(Command::Keep, "moved").await;
    let Event::Saved { result: Ok(said), .. } = &moved else { panic!("{moved:?}") };
    let at: u64 = said.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(at > 0, "{said}");
    assert_eq!(cnnscope_app::runs::read(&name).await.map(|c| c.state.steps), Ok(at), "{said}: the run was kept as it moved");

    // Issue 33.3: a start that fails changes nothing, the loaded weights included.
    let Event::File { bytes, .. } = ask(Command::Download(Download::Weights), "moved").await else { panic!("no weights") };
    let opened = ask(Command::OpenFile { name: "w.safetensors".into(), file: Incoming::Bytes(bytes), setup: setup(1, 16) }, "moved").await;
    assert!(matches!(&opened, Event::Message(Ok(m)) if m.starts_with("loaded w.safetensors")), "{opened:?}");
    let from = events.borrow().len();
    ask(Command::Start { setup: setup(1, 128), from_loaded: false }, "loaded").await;
    gloo_timers::future::TimeoutFuture::new(200).await;
    let said: Vec<String> = events.borrow()[from..].iter().map(|e| format!("{e:?}").chars().take(200).collect()).collect();
    assert!(said.iter().any(|e| e.starts_with("Message(Err(") && e.contains("could not start")), "the weights on screen again, and why: {said:?}");
    let resumed = ask(Command::Start { setup: setup(1, 16), from_loaded: true }, "loaded, after a failed start").await;
    assert!(matches!(resumed, Event::Status { status: Status::Running, .. }), "the loaded weights are still there: {resumed:?}");

    // Finished: one epoch of 4 steps.
    ask(Command::Start { setup: setup(1, 16), from_loaded: false }, "stopped").await;
    let finished = run();
    let done = |events: &Vec<Event>| events.iter().any(|e| matches!(e, Event::Status { run, status: Status::Finished } if *run == finished));
    for _ in 0..600 {
        if done(&events.borrow()) {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
    assert!(done(&events.borrow()), "the one-epoch run finished");
    each("finished", finished).await;
    assert!(matches!(ask(Command::Control { run: finished, control: Control::Run }, "finished").await, Event::Nothing(_)));

    // A lost GPU device: the finished run moves to the WGSL engine, whose device is then lost.
    assert!(matches!(ask(Command::OpenEngine { choice: cnnscope::Choice::Wgsl, webgpu: true }, "finished").await, Event::Adapter(Ok(_))));
    let lost = ask(Command::LoseDevice, "paused on the WGSL engine").await;
    assert!(matches!(lost, Event::Status { status: Status::DeviceLost(_), .. }), "{lost:?}");
    each("device lost", run()).await;
}

/// The terminal events of `command`: the ones that answer it.
fn ends(command: &Command) -> impl Fn(&Event) -> bool + use<> {
    let command = command.clone();
    move |e: &Event| {
        matches!(e, Event::Nothing(_))
            || match &command {
                Command::LoadData { .. } => matches!(e, Event::Data(_)),
                Command::Prepare { .. } => matches!(e, Event::Prepared { .. }),
                Command::Start { .. } => matches!(e, Event::Status { .. } | Event::Message(_)),
                Command::Control { .. } => matches!(e, Event::Status { .. }),
                Command::SetLr { .. } | Command::OpenFile { .. } | Command::OpenUrl { .. } | Command::OpenKept { .. } => matches!(e, Event::Message(_)),
                Command::Keep => matches!(e, Event::Saved { .. }),
                Command::TimeStep { .. } => matches!(e, Event::Timing { .. }),
                Command::Inspect(_) => matches!(e, Event::Inspection(_)),
                Command::Explain { .. } => matches!(e, Event::Explanation(_)),
                Command::Evaluate => matches!(e, Event::Evaluation(_)),
                Command::Download(_) => matches!(e, Event::File { .. } | Event::KeptFile { .. } | Event::Message(_)),
                Command::OpenEngine { .. } => matches!(e, Event::Adapter(_) | Event::Message(_)),
                Command::CheckAdapter => matches!(e, Event::Checked(_)),
                Command::LoseDevice => matches!(e, Event::Status { status: cnnscope_app::protocol::Status::DeviceLost(_), .. }),
                Command::Panic { .. } => true,
            }
    }
}

/// A gzip-compressed IDX file of `dims` with varied bytes (images) or labels 0–9.
fn idx(magic: u32, dims: &[u32]) -> Vec<u8> {
    use std::io::Write;
    let mut raw = magic.to_be_bytes().to_vec();
    for d in dims {
        raw.extend(d.to_be_bytes());
    }
    let count: u32 = dims.iter().product();
    raw.extend((0..count).map(|i| if magic == 2049 { (i % 10) as u8 } else { (i.wrapping_mul(2654435761) >> 24) as u8 }));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    gz.finish().unwrap()
}

/// Issue 33.6: two tabs starting in the same millisecond name their runs apart.
#[wasm_bindgen_test]
fn run_names_have_a_random_part() {
    let (a, b) = (cnnscope_app::runs::new_name("alexnet"), cnnscope_app::runs::new_name("alexnet"));
    assert_ne!(a, b);
    assert!(a.ends_with("-alexnet") && a.len() == "2026-11-30T07-51-12-345-3fa2-alexnet".len(), "{a}");
}

/// Issue 33.1: a download past 1 GiB grows to exactly what it needs where doubling would pass
/// wasm32's largest block (2^31 − 1 bytes: a doubling `Vec` aborts with "capacity overflow"), and
/// one that cannot be set aside is refused with what it needed, never an abort.
#[wasm_bindgen_test]
fn a_download_grows_within_what_the_tab_can_address() {
    use cnnscope_app::worker::data::{grown, make_room};
    let gib = 1usize << 30;
    assert_eq!(grown(1000, 1500, usize::MAX), Some(2000), "doubling while it fits");
    assert_eq!(grown(gib, gib + 5, usize::MAX), Some(isize::MAX as usize), "past 1 GiB: the largest block, not 2^31");
    assert_eq!(grown(gib, gib + 5, gib + 100), Some(gib + 100), "never past the file's limit");
    assert_eq!(grown(0, 100, 50), None, "past the limit: refused");
    let mut bytes = vec![1u8; 10];
    assert_eq!(make_room(&mut bytes, 90, 1000), Ok(()));
    assert!(bytes.capacity() >= 100);
    assert_eq!(make_room(&mut bytes, usize::MAX, usize::MAX), Err(usize::MAX), "refused, not an abort");
    assert_eq!(make_room(&mut bytes, isize::MAX as usize, usize::MAX), Err(10 + isize::MAX as usize));
}
