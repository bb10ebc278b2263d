//! The live page's files, built into the binary (no build step, nothing
//! fetched at run time): the page, its script and style, and the vendored
//! cytoscape.js that draws the picture (see `assets/vendor/README.md` for
//! where it comes from and its licence).

use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("assets/index.html");
const APP: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");
const CYTOSCAPE: &str = include_str!("assets/vendor/cytoscape.min.js");

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Html(INDEX) }))
        .route(
            "/app.js",
            get(|| async { ([(header::CONTENT_TYPE, JAVASCRIPT)], APP) }),
        )
        .route(
            "/style.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }),
        )
        .route(
            "/vendor/cytoscape.min.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, JAVASCRIPT),
                        (header::CACHE_CONTROL, "max-age=86400"),
                    ],
                    CYTOSCAPE,
                )
            }),
        )
}
