//! The live page's files, built into the binary (no build step, nothing
//! fetched at run time): the page, its script modules and style, and the
//! vendored cytoscape.js that draws the picture (see
//! `assets/vendor/README.md` for where it comes from and its licence).

use axum::http::header;
use axum::response::Html;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("assets/index.html");

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file but the page itself: its path, media type and text.
const FILES: &[(&str, &str, &str)] = &[
    ("/app.js", JAVASCRIPT, include_str!("assets/app.js")),
    ("/auth.js", JAVASCRIPT, include_str!("assets/auth.js")),
    ("/state.js", JAVASCRIPT, include_str!("assets/state.js")),
    ("/util.js", JAVASCRIPT, include_str!("assets/util.js")),
    ("/url.js", JAVASCRIPT, include_str!("assets/url.js")),
    ("/layout.js", JAVASCRIPT, include_str!("assets/layout.js")),
    ("/style.js", JAVASCRIPT, include_str!("assets/style.js")),
    ("/graph.js", JAVASCRIPT, include_str!("assets/graph.js")),
    ("/panels.js", JAVASCRIPT, include_str!("assets/panels.js")),
    ("/trace.js", JAVASCRIPT, include_str!("assets/trace.js")),
    ("/style.css", CSS, include_str!("assets/style.css")),
    (
        "/vendor/cytoscape.min.js",
        JAVASCRIPT,
        include_str!("assets/vendor/cytoscape.min.js"),
    ),
];

pub fn router() -> Router {
    let mut router = Router::new().route("/", get(|| async { Html(INDEX) }));
    for &(path, media_type, text) in FILES {
        router = router.route(
            path,
            get(move || async move { ([(header::CONTENT_TYPE, media_type)], text) }),
        );
    }
    router
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every script and style the page names is served, so a file added to
    /// the page and forgotten here fails this test, not a user's browser.
    #[test]
    fn every_file_the_page_names_is_served() {
        let served: Vec<&str> = FILES.iter().map(|f| f.0.trim_start_matches('/')).collect();
        let texts = FILES.iter().map(|f| f.2).chain([INDEX]);
        for text in texts {
            for quote in ["src=\"", "href=\"", "from './", "from \"./"] {
                for part in text.split(quote).skip(1) {
                    let name = part.split(['"', '\'']).next().unwrap_or_default();
                    if name.ends_with(".js") || name.ends_with(".css") {
                        assert!(served.contains(&name), "{name} is not served");
                    }
                }
            }
        }
    }
}
