//! Your own network: its design (`cnnscope::net::design`'s text format) in an editor above the
//! layer table, which follows every keystroke; one of the four nets to start from; and the line
//! that does not read or does not fit, quoted under the editor with the reason.

use cnnscope::EngineError;
use cnnscope::net::{Arch, Design, Net, Summary};
use leptos::html::Textarea;
use leptos::prelude::*;

use crate::setup::Setup;
use crate::page::view::use_view;

/// The design's mistake, if `built` (the setup's network) has one: its line number, the line and
/// why.
pub fn mistake(setup: &Setup, built: &Result<Net, EngineError>) -> Option<(usize, String, String)> {
    let (Arch::Own(text), Err(EngineError::Design { line, detail })) = (&setup.arch, built) else { return None };
    Some((*line, text.lines().nth(line.saturating_sub(1)).unwrap_or_default().trim().to_string(), detail.clone()))
}

/// The layer table of the modules before a design's mistake (none when the text does not read).
pub fn fitting_summary(setup: &Setup) -> Option<Summary> {
    let Arch::Own(text) = &setup.arch else { return None };
    let (root, _) = text.parse::<Design>().ok()?.fitting(setup.ratio, setup.side);
    Summary::new(&Net { config: setup.config(), root }).ok()
}

#[component]
pub fn DesignEditor(network: Memo<Result<Net, EngineError>>) -> impl IntoView {
    let view = use_view();
    let setup = view.setup;
    let found = Memo::new(move |_| network.with(|built| setup.with(|s| mistake(s, built))));
    let locked = move || view.running();
    let design = move || setup.with(|s| if let Arch::Own(text) = &s.arch { text.to_string() } else { String::new() });
    // The text follows the setup when it changes from elsewhere (a preset, a link, an opened
    // file), but is not rewritten while typed in: that would move the caret.
    let editor = NodeRef::<Textarea>::new();
    Effect::new(move |_| {
        let text = design();
        if let Some(area) = editor.get()
            && area.value() != text
        {
            area.set_value(&text);
        }
    });
    let start_from = move |arch: Arch| {
        let name = arch.to_string();
        view! {
            <button class="preset" disabled=locked on:click=move |_| setup.set(Setup::for_net(arch.clone()).as_own())>{name}</button>
        }
    };
    view! {
        <div class="design" data-testid="design">
            <div class="controls presets">
                <span class="hint">"start from"</span>
                {Arch::ALL.into_iter().map(start_from).collect_view()}
            </div>
            <textarea node_ref=editor data-testid="design-text" spellcheck="false" autocomplete="off" rows="16" disabled=locked
                aria-label="your network, one module per line"
                aria-invalid=move || found.with(Option::is_some).to_string()
                on:input=move |ev| {
                    let text = event_target_value(&ev);
                    setup.update(|s| s.arch = Arch::Own(text.into()));
                }></textarea>
            {move || found.get().map(|(line, code, why)| view! {
                <p class="error design-error" data-testid="design-error">
                    {format!("line {line} ")}<code>{code}</code>{format!(" {why}")}
                </p>
            })}
            <p class="hint">
                "One module per line: conv WIDTH k= s= p= · maxpool / avgpool k= s= p= · global_avg_pool · relu · dropout RATE · flatten · "
                "linear WIDTH · vgg_block CONVS WIDTH · nin_block WIDTH k= s= p= · inception C1 (C2, C2) (C3, C3) C4 · NAME: { … } groups. "
                "Widths are divided by “width ÷” except the last, the 10 class scores. docs/APP.md has the whole format."
            </p>
        </div>
    }
}
