//! The app's logic in a real browser on its WebGPU (`wasm-pack test --headless --chrome` in app/):
//! recipes, the fit warning, the data location, picked files, and a drawing through a network.
#![cfg(target_arch = "wasm32")]

use cnnscope::Gpu;
use cnnscope::model::{Init, Model};
use cnnscope::net::{Arch, Summary};
use cnnscope_app::{dataset, session, setup::{Setup, fit_warning}};
use wasm_bindgen_test::wasm_bindgen_test;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn every_default_setup_is_a_valid_network() {
    for arch in Arch::ALL {
        let setup = Setup::for_net(arch);
        let summary = Summary::new(&setup.net().unwrap()).unwrap();
        assert!(summary.params > 0 && setup.batch > 0 && setup.lr > 0.0, "{arch}");
    }
    let impossible = Setup { side: 20, ..Setup::for_net(Arch::Nin) };
    assert_eq!(impossible.net().unwrap_err(), "NiN: needs an input side of at least 67, got 20");
}

#[wasm_bindgen_test]
async fn a_batch_too_big_for_the_adapter_is_explained() {
    let gpu = Gpu::new().await.unwrap();
    let setup = Setup::for_net(Arch::AlexNet);
    let summary = Summary::new(&Setup { ratio: 1, side: 224, ..setup }.net().unwrap()).unwrap();
    assert_eq!(fit_warning(&gpu, &summary, 8), None);
    let warning = fit_warning(&gpu, &summary, 1_000_000).unwrap();
    assert!(warning.contains("lower the batch to"), "{warning}");
}

#[wasm_bindgen_test]
fn the_data_is_served_beside_the_page() {
    assert_eq!(dataset::base_url(), "data/fashion-mnist/");
}

#[wasm_bindgen_test]
async fn picked_files_are_checked() {
    let transfer = web_sys::DataTransfer::new().unwrap();
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(&b"not gzip"[..]));
    let file = web_sys::File::new_with_u8_array_sequence(&parts, "train-images-idx3-ubyte.gz").unwrap();
    transfer.items().add_with_file(&file).unwrap();
    let err = dataset::load_from_files(transfer.files().unwrap()).await.unwrap_err();
    assert_eq!(err, "pick all four files; missing train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz");
}

#[wasm_bindgen_test]
async fn a_drawing_goes_through_every_layer() {
    let gpu = Gpu::new().await.unwrap();
    let net = Setup { ratio: 16, side: 67, ..Setup::for_net(Arch::AlexNet) }.net().unwrap();
    let model = Model::new(&gpu, net, Init::Default, 1).unwrap();
    let pixels: Vec<u8> = (0..28 * 28).map(|i| if (i / 28) % 7 < 3 { 220 } else { 0 }).collect();
    let (layers, probs, _) = session::inspect_pixels(&gpu, &model, pixels).await.unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["input", "conv.0", "conv.2", "conv.3", "conv.5", "conv.6", "conv.8", "conv.10", "conv.12", "fc.0", "fc.3", "fc.6"]);
    assert_eq!(layers[0].shape, [1, 67, 67]);
    assert!(layers[0].values.iter().any(|&v| v > 0.5), "the drawing reaches the input");
    assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-4);
}
