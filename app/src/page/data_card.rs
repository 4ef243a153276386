//! Card 2: Fashion-MNIST, fetched and parsed by the worker; a file picker when that fails.

use cnnscope::data::CLASS_NAMES;
use leptos::prelude::*;

use crate::page::bridge::send;
use crate::page::grey_image::GreyImage;
use crate::protocol::{Command, DataSource, DataSummary};
use crate::page::view::use_view;

/// Asks the worker for the dataset from the page's origin (`?data=`, `?limit=`); a bad `?limit=`
/// or a `?data=` on another site is said on the card instead.
pub fn load_from_server() {
    match crate::page::dataset::limit().and_then(|limit| Ok((crate::page::dataset::base_url()?, limit))) {
        Ok((url, limit)) => send(Command::LoadData { source: DataSource::Server(url), limit }),
        Err(e) => use_view().data.set(Some(Err(e))),
    }
}

#[component]
pub fn DataCard() -> impl IntoView {
    let view = use_view();
    let pick_files = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(files) = input.files() else { return };
        let limit = match crate::page::dataset::limit() {
            Ok(limit) => limit,
            Err(e) => return view.data.set(Some(Err(e))),
        };
        view.data.set(None);
        leptos::task::spawn_local(async move {
            match crate::page::dataset::read_picked(files).await {
                Ok(files) => send(Command::LoadData { source: DataSource::Files(files), limit }),
                Err(e) => view.data.set(Some(Err(e))),
            }
        });
    };
    view! {
        <section class="card" data-testid="data">
            <h2>"2 · Fashion-MNIST"</h2>
            {move || match view.data.get() {
                Some(Ok(d)) => view! {
                    <p data-testid="data-ready">{format!("{} training and {} test images of {}×{} pixels, ten classes.", d.train, d.test, d.rows, d.cols)}</p>
                    <SampleStrip data=d />
                }.into_any(),
                Some(Err(e)) => view! {
                    <p class="error" data-testid="data-error">{format!("The dataset could not be loaded: {e}")}</p>
                    <p>"Pick the four files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) from your disk:"</p>
                    <input type="file" multiple accept=".gz" aria-label="the four Fashion-MNIST files" on:change=pick_files />
                }.into_any(),
                None => view! {
                    <p>"Loading the dataset…"</p>
                    <progress max="1" aria-label="dataset loaded" prop:value=move || view.data_progress.get()></progress>
                }.into_any(),
            }}
        </section>
    }
}

/// One example of each class from the test set, with its name.
#[component]
fn SampleStrip(data: DataSummary) -> impl IntoView {
    let (rows, cols) = (data.rows, data.cols);
    data.samples
        .into_iter()
        .map(|(class, pixels)| {
            let label = CLASS_NAMES.get(class as usize).copied().unwrap_or("?");
            view! {
                <figure class="sample">
                    <GreyImage pixels=pixels rows=rows cols=cols label=format!("{label}, {rows}×{cols} pixels") />
                    <figcaption>{label}</figcaption>
                </figure>
            }
        })
        .collect_view()
}
