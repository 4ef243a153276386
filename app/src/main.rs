//! The page's entry point (see lib.rs).

fn main() {
    cnnscope_app::start();
}
