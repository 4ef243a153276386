//! The runs kept in this browser (`runs`): each with its network, progress, last test accuracy and
//! size, to open (paused where it stopped) or delete; and how many to keep. Pruning is the user's
//! choice (by default every run stays: a deleted run cannot come back), applied whenever a run is
//! kept, oldest first, never to a run open in any tab.

use cnnscope::net::Summary;
use cnnscope::train::checkpoint::Header;
use leptos::prelude::*;

use crate::protocol::{Command, Notes};
use crate::page::view::use_view;

/// One kept run as the list shows it.
#[derive(Clone, Debug, PartialEq)]
struct Kept {
    name: String,
    title: String,
    progress: String,
    accuracy: Option<f64>,
    bytes: f64,
}

/// A kept run as the list shows it, from its header alone (`runs::read_header`).
async fn describe(name: &str) -> Result<Kept, String> {
    let (start, bytes) = crate::runs::read_header(name).await?;
    let header = Header::read(&start).map_err(|e| e.to_string())?;
    let notes: Notes = serde_json::from_str(&header.notes).unwrap_or_default();
    let mut title = cnnscope::net::Net::new(header.net).and_then(|net| Summary::new(&net)).map(|s| s.title).unwrap_or_default();
    if let Some(from) = &notes.branched_from {
        title = format!("{title} · opened from {from}");
    }
    let s = header.state;
    let progress = format!("epoch {} of {} · step {}", (s.epoch + 1).min(header.epochs.max(1)), header.epochs, s.steps);
    Ok(Kept { name: name.to_string(), title, progress, accuracy: notes.test_acc.last().map(|&(_, a)| a), bytes })
}

/// Where the page remembers how many runs to keep (this browser's `localStorage`).
const KEEP_LAST_KEY: &str = "cnnscope.keep-last";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// How many runs to keep, if the user set a number (`None`: all).
fn keep_last() -> Option<usize> {
    local_storage()?.get_item(KEEP_LAST_KEY).ok()??.parse().ok().filter(|&n| n >= 1)
}

/// Deletes the runs past the newest `keep`, sparing the run on screen and any open in a tab.
async fn prune(keep: Option<usize>, on_screen: String) -> Result<Vec<String>, String> {
    let open = crate::lock::open_anywhere().await.map(|mut open| {
        open.push(on_screen);
        open
    });
    let mut deleted = match crate::incoming::prune().await? {
        0 => Vec::new(),
        1 => vec!["a file a closed tab left while opening it".to_string()],
        n => vec![format!("{n} files closed tabs left while opening them")],
    };
    deleted.extend(crate::runs::prune(keep, open.as_deref()).await?);
    Ok(deleted)
}

/// Lists the kept runs whenever one is saved; "open" has the worker open one, paused.
#[component]
pub fn SavedRuns() -> impl IntoView {
    let view = use_view();
    let stored = view.stored;
    let limit = RwSignal::new(keep_last());
    let message = RwSignal::new(None::<String>);
    let kept = LocalResource::new(move || {
        stored.track();
        let (limit, on_screen) = (limit.get(), view.run_name.get_untracked());
        async move {
            // Keeps cut short always go; runs only past "keep the last N".
            match prune(limit, on_screen).await {
                Ok(deleted) if !deleted.is_empty() => message.set(Some(match limit {
                    Some(keep) => format!("deleted {} (keeping the last {keep})", deleted.join(", ")),
                    None => format!("deleted {}", deleted.join(", ")),
                })),
                Ok(_) => {}
                Err(e) => message.set(Some(e)),
            }
            let mut out = Vec::new();
            for name in crate::runs::names().await? {
                out.push(describe(&name).await.map_err(|e| (name.clone(), e)));
            }
            Ok::<_, String>(out)
        }
    });
    let set_limit = move |value: String| {
        let n = value.trim().parse::<usize>().ok().filter(|&n| n >= 1);
        if let Some(storage) = local_storage() {
            let _ = match n {
                Some(n) => storage.set_item(KEEP_LAST_KEY, &n.to_string()),
                None => storage.remove_item(KEEP_LAST_KEY),
            };
        }
        message.set(None);
        limit.set(n);
    };
    let open = move |name: String| crate::page::bridge::send(Command::OpenKept { name });
    let delete = move |name: String| {
        leptos::task::spawn_local(async move {
            if let Err(e) = crate::runs::remove(&name).await {
                message.set(Some(e));
            }
            stored.update(|n| *n += 1);
        })
    };
    view! {
        {move || kept.get().map(|result| match result {
            Err(e) => view! { <p class="error">{e}</p> }.into_any(),
            Ok(runs) if runs.is_empty() => view! {
                <p class="hint" data-testid="no-saved-runs">"No runs kept yet: a run is kept here every few seconds while it trains, after every epoch and on every pause, and survives a reload."</p>
            }.into_any(),
            Ok(runs) => {
                let total: f64 = runs.iter().flatten().map(|k| k.bytes).sum();
                let count = runs.len();
                let rows = runs.into_iter().map(|run| match run {
                    Ok(k) => {
                        let (to_open, to_delete) = (k.name.clone(), k.name.clone());
                        view! {
                            <tr data-testid="saved-run">
                                <td>{k.title}</td>
                                <td>{k.progress}</td>
                                <td class="num">{k.accuracy.map(|a| format!("{a:.3}")).unwrap_or_else(|| "—".into())}</td>
                                <td class="num">{format!("{:.1} MiB", k.bytes / (1 << 20) as f64)}</td>
                                <td class="hint">{k.name}</td>
                                <td>
                                    <button data-testid="open-run" on:click=move |_| open(to_open.clone())>"open"</button>
                                    <button data-testid="delete-run" on:click=move |_| delete(to_delete.clone())>"delete"</button>
                                </td>
                            </tr>
                        }.into_any()
                    }
                    Err((name, e)) => {
                        let to_delete = name.clone();
                        view! {
                            <tr><td colspan="5" class="error">{format!("{name}: {e}")}</td>
                                <td><button on:click=move |_| delete(to_delete.clone())>"delete"</button></td></tr>
                        }.into_any()
                    }
                }).collect_view();
                view! {
                    <p class="hint" data-testid="saved-total">{format!("{count} run{} kept, {:.1} MiB in all", if count == 1 { "" } else { "s" }, total / (1 << 20) as f64)}</p>
                    <div class="scroll" tabindex="0" role="region" aria-label="runs kept in this browser"><table class="layers" data-testid="saved-runs">
                        <thead><tr><th scope="col">"network"</th><th scope="col">"progress"</th><th scope="col">"test accuracy"</th><th scope="col">"size"</th><th scope="col">"name"</th><th scope="col"><span class="visually-hidden">"open or delete"</span></th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table></div>
                }.into_any()
            }
        })}
        <label class="keep-last">"keep the last "
            <input type="number" min="1" step="1" inputmode="numeric" data-testid="keep-last" placeholder="all"
                prop:value=move || limit.get().map(|n| n.to_string()).unwrap_or_default()
                on:change=move |e| set_limit(event_target_value(&e))/>
            " runs (empty: all; older ones are deleted whenever a run is kept, never one open in a tab)"
        </label>
        {move || message.get().map(|m| view! { <p class="hint" data-testid="saved-message">{m}</p> })}
    }
}
