//! The API's route table: each entry is one path's handlers, written once, from which both the
//! axum router and the OpenAPI document are built — the router at start-up, the document only
//! when someone asks for it.
//!
//! Why not `utoipa_axum::OpenApiRouter` alone: it builds every operation's schemas while the
//! router is assembled, which was most of the API Lambda's start-up work (about 2 ms of each cold
//! start, for a document few requests read). Here the router takes only each handler's path and
//! methods from its `#[utoipa::path]` annotation; the document is built by `OpenApiRouter` from
//! the same entries on first request.
//!
//! Invariants:
//! - The router and the document come from the same entries, so they list the same routes (a
//!   test checks every path and method of the table against the document).
//! - Entries are nested under a prefix before they are served (`/api/v1`, `/api/v1/admin`).

use axum::Router;
use axum::handler::Handler;
use axum::routing::MethodRouter;
use utoipa::openapi::{HttpMethod, OpenApi as OpenApiDoc};
use utoipa_axum::PathItemExt as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::AppState;

/// One path's handlers: `route!(list_products, create_product)`. Every handler needs a
/// `#[utoipa::path]` annotation (its path and method come from there).
macro_rules! route {
    ($($handler:ident),+ $(,)?) => {{
        let entry = $crate::route_table::Entry::new(|| utoipa_axum::routes!($($handler),+));
        $( let entry = utoipa_axum::paste! { entry.handle::<[<__path_ $handler>], _, _>($handler) }; )+
        entry
    }};
}
pub(crate) use route;

/// One path of the table.
pub struct Entry {
    path: String,
    methods: Vec<HttpMethod>,
    router: MethodRouter<AppState>,
    /// The same handlers with their documentation (`utoipa_axum::routes!`), built on demand.
    document: fn() -> UtoipaMethodRouter<AppState>,
}

impl Entry {
    #[doc(hidden)]
    pub fn new(document: fn() -> UtoipaMethodRouter<AppState>) -> Self {
        Self {
            path: String::new(),
            methods: Vec::new(),
            router: MethodRouter::new(),
            document,
        }
    }

    /// Serve `handler` at the path and methods its annotation `P` gives.
    #[doc(hidden)]
    pub fn handle<P, H, T>(mut self, handler: H) -> Self
    where
        P: utoipa::Path,
        H: Handler<T, AppState>,
        T: 'static,
    {
        let path = P::path();
        debug_assert!(
            self.path.is_empty() || self.path == path,
            "one route! entry serves one path: {} and {path}",
            self.path
        );
        for method in P::methods() {
            self.router = self.router.on(method.to_method_filter(), handler.clone());
            self.methods.push(method);
        }
        self.path = path;
        self
    }
}

/// A list of [`Entry`]s under one prefix.
#[derive(Default)]
pub struct RouteTable {
    prefix: String,
    entries: Vec<Entry>,
}

impl RouteTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, entry: Entry) -> Self {
        self.entries.push(entry);
        self
    }

    /// Append `other`'s entries (both under the same prefix).
    pub fn merge(mut self, other: RouteTable) -> Self {
        self.entries.extend(other.entries);
        self
    }

    /// These entries under `prefix` (e.g. `/api/v1`).
    pub fn nest(mut self, prefix: &str) -> Self {
        self.prefix = format!("{prefix}{}", self.prefix);
        self
    }

    /// Every served path and method, e.g. `("/api/v1/products/{id}", "get")`.
    pub fn operations(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .flat_map(|e| {
                e.methods.iter().map(|m| {
                    let method = serde_json::to_value(m)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    (format!("{}{}", self.prefix, e.path), method)
                })
            })
            .collect()
    }

    /// The axum router serving these entries (no documentation is built).
    pub fn router(self) -> Router<AppState> {
        self.entries
            .into_iter()
            .fold(Router::new(), |router, entry| {
                router.route(&format!("{}{}", self.prefix, entry.path), entry.router)
            })
    }

    /// Add these entries' documentation to `doc`.
    pub fn document(&self, doc: OpenApiDoc) -> OpenApiDoc {
        let documented = self
            .entries
            .iter()
            .fold(OpenApiRouter::<AppState>::new(), |router, entry| {
                router.routes((entry.document)())
            });
        let base = OpenApiRouter::with_openapi(doc);
        let combined = if self.prefix.is_empty() {
            base.merge(documented)
        } else {
            base.nest(&self.prefix, documented)
        };
        combined.split_for_parts().1
    }
}
