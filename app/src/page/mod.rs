//! The page: the cards a user sees and touches, in the main thread. It holds no GPU objects and
//! runs no kernels: it sends `protocol::Command`s to the worker through `bridge` and shows the
//! `protocol::Event`s that come back (`view`).

pub mod app;
pub mod bridge;
pub mod canvas;
pub mod charts;
pub mod compare;
pub mod data_card;
pub mod dataset;
pub mod design_editor;
pub mod download;
pub mod drawing;
pub mod explanation_view;
pub mod feature_maps;
pub mod grey_image;
pub mod layer_stats_view;
pub mod layer_table;
pub mod network_card;
pub mod results;
pub mod saved_runs;
pub mod share;
pub mod time_chart;
pub mod training_card;
pub mod view;
pub mod webgpu;
