//! The catalog's full-text index: products' names and descriptions analysed for Portuguese
//! (case and accents folded, stop words dropped, words stemmed: `canecas` finds `caneca`), with
//! typo tolerance on longer words, relevance ranking that weighs the name above the
//! description, and facet counts for categories, option values and price ranges.
//!
//! The index is held in memory (tantivy, RAM directory) and knows only what it was given:
//! [`ProductIndex::put`] and [`ProductIndex::remove`] change it, [`ProductIndex::commit`] makes
//! the changes searchable. [`SearchState`] is a process's index and the products changed
//! through the process since; keeping it in step with the table is `crate::catalog_search`'s.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64};
use std::sync::{Arc, Mutex, RwLock};

use tantivy::collector::{Count, FacetCollector, TopDocs};
use tantivy::directory::{Directory, META_LOCK, RamDirectory};
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions, Value,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    StopWordFilter, TextAnalyzer,
};
use tantivy::{
    DocAddress, Index, IndexReader, IndexWriter, Order, ReloadPolicy, Searcher, TantivyDocument,
    Term,
};
use vitrine_domain::catalog::Product;
pub use vitrine_domain::text::fold;

/// Price ranges counted as facets, in centavos: each range runs from its bound to just below
/// the next (the last has no upper bound).
pub const PRICE_BOUNDS: [i64; 5] = [0, 5_000, 10_000, 20_000, 50_000];

/// Words of at least this many letters match with one typo (`camisteta` finds `camiseta`).
pub const FUZZY_FROM_LETTERS: usize = 5;

/// At most this many option names get value counts (the most common are not chosen: names are
/// taken in order; a catalog with more distinct option names than this is unusual).
pub const MAX_OPTION_FACETS: usize = 24;

/// The deepest result a search pages to.
pub const MAX_DEPTH: usize = 10_000;

/// How a search's results are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrder {
    Relevance,
    Newest,
    PriceAsc,
    PriceDesc,
    Name,
}

/// What a search asks for.
#[derive(Debug, Clone)]
pub struct SearchQuery<'a> {
    pub text: &'a str,
    /// Categories whose products are searched (a category and its descendants); `None`: all.
    pub categories: Option<&'a [String]>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// Option filters as folded `(name, value)`: values of one name are alternatives, names
    /// must all match.
    pub options: &'a [(String, String)],
    pub include_inactive: bool,
    pub order: SearchOrder,
    pub offset: usize,
    pub limit: usize,
}

/// A page of results with the count and facets of all of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchResult {
    pub ids: Vec<String>,
    pub total: usize,
    pub facets: Facets,
}

/// Counts among all results of a search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facets {
    /// Per category id, the results in it or its descendants; only counts above zero.
    pub categories: Vec<(String, u64)>,
    /// Per option name (folded), its values: (folded value, value as first written, count).
    pub options: Vec<OptionFacet>,
    /// Per price range of [`PRICE_BOUNDS`]: (from, to inclusive or `None`, count); only counts
    /// above zero.
    pub prices: Vec<(i64, Option<i64>, u64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptionFacet {
    pub name: String,
    pub label: String,
    pub values: Vec<OptionValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OptionValue {
    pub key: String,
    pub label: String,
    pub count: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(#[from] tantivy::TantivyError);

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    name: Field,
    description: Field,
    facets: Field,
    price: Field,
    created: Field,
    active: Field,
    /// The folded name, for ordering by name.
    name_key: Field,
}

/// The name key field's name (ordering by name reads it by name).
const NAME_KEY: &str = "name_key";

/// The analyser of names, descriptions and queries.
const PT: &str = "pt";

/// Facet roots.
const CATEGORY: &str = "c";
const OPTION: &str = "o";
const PRICE: &str = "p";

/// The most threads one search uses.
const SEARCH_THREADS: usize = 4;

/// The writer's memory budget (tantivy's minimum per thread is 15 MB).
const WRITER_BYTES: usize = 24_000_000;

/// The catalog's full-text index.
pub struct ProductIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    /// The analysers of a query's words: stemmed (as indexed) and whole (to tell their length);
    /// cloned per query (their stop word list is shared).
    stemmed: TextAnalyzer,
    whole: TextAnalyzer,
    /// Option names and values as first written, by their folded forms, for facet labels.
    labels: RwLock<Labels>,
}

#[derive(Default)]
struct Labels {
    names: BTreeMap<String, String>,
    values: HashMap<(String, String), String>,
}

impl ProductIndex {
    pub fn new() -> Result<Self, SearchError> {
        let mut schema = Schema::builder();
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(PT)
                .set_index_option(IndexRecordOption::WithFreqs),
        );
        schema.add_text_field("id", STRING | STORED);
        schema.add_text_field("name", text.clone());
        schema.add_text_field("description", text);
        schema.add_facet_field("facets", FacetOptions::default());
        schema.add_u64_field("price", INDEXED | FAST);
        schema.add_u64_field("created", FAST);
        schema.add_u64_field("active", INDEXED);
        schema.add_text_field(NAME_KEY, STRING | FAST);
        Self::open(Index::create_in_ram(schema.build()), Labels::default())
    }

    /// `index` (made by [`ProductIndex::new`], or read back by [`ProductIndex::from_bytes`])
    /// with its analysers, writer and reader.
    fn open(mut index: Index, labels: Labels) -> Result<Self, SearchError> {
        // A search runs over the index's segments on every core: one shopper's search at a
        // million products takes half the time on two (docs/benchmarks.md).
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        index.set_multithread_executor(cores.min(SEARCH_THREADS))?;
        let schema = index.schema();
        let field = |name: &str| {
            schema.get_field(name).map_err(|_| {
                SearchError(tantivy::TantivyError::SchemaError(format!(
                    "the index has no field {name}"
                )))
            })
        };
        let fields = Fields {
            id: field("id")?,
            name: field("name")?,
            description: field("description")?,
            facets: field("facets")?,
            price: field("price")?,
            created: field("created")?,
            active: field("active")?,
            name_key: field(NAME_KEY)?,
        };
        let stemmed = analyzer(true);
        index.tokenizers().register(PT, stemmed.clone());
        let writer = index.writer_with_num_threads(1, WRITER_BYTES)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            stemmed,
            whole: analyzer(false),
            labels: RwLock::new(labels),
        })
    }

    /// The index as committed, in one sequence of bytes that [`ProductIndex::from_bytes`] reads
    /// back (to be stored and opened by another process): every file of the index and the
    /// option labels. Changes not yet committed are not in it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SearchError> {
        let directory = self.index.directory();
        // No commit of ours meanwhile, and no clean-up of the files a merge left behind
        // (tantivy removes them under the meta lock, as readers take it to load segments).
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _meta = directory
            .acquire_lock(&META_LOCK)
            .map_err(|e| file_error(format!("locking the index: {e}")))?;
        let read = |path: &Path| {
            directory
                .atomic_read(path)
                .map_err(|e| file_error(format!("reading {}: {e}", path.display())))
        };
        let managed: Vec<PathBuf> = serde_json::from_slice(&read(Path::new(MANAGED_FILE))?)
            .map_err(|e| file_error(format!("{MANAGED_FILE}: {e}")))?;
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for path in managed
            .iter()
            .map(PathBuf::as_path)
            .chain([Path::new(META_FILE), Path::new(MANAGED_FILE)])
        {
            let name = path.to_string_lossy().into_owned();
            if files.contains_key(&name) || name.ends_with(".lock") {
                continue;
            }
            // A managed file may be listed before it is written, or after it is gone.
            match directory.atomic_read(path) {
                Ok(bytes) => {
                    files.insert(name, bytes);
                }
                Err(tantivy::directory::error::OpenReadError::FileDoesNotExist(_)) => {}
                Err(e) => return Err(file_error(format!("reading {name}: {e}"))),
            }
        }
        let labels = {
            let l = self.labels.read().unwrap_or_else(|e| e.into_inner());
            let stored = StoredLabels {
                names: l
                    .names
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                values: l
                    .values
                    .iter()
                    .map(|((n, k), v)| (n.clone(), k.clone(), v.clone()))
                    .collect(),
            };
            serde_json::to_vec(&stored).map_err(|e| file_error(format!("labels: {e}")))?
        };
        let size: usize = files.iter().map(|(n, b)| n.len() + b.len() + 12).sum();
        let mut out = Vec::with_capacity(FORMAT.len() + 4 + labels.len() + size);
        out.extend_from_slice(FORMAT);
        put_part(&mut out, LABELS_PART, &labels);
        for (name, bytes) in &files {
            put_part(&mut out, name, bytes);
        }
        Ok(out)
    }

    /// An index read back from [`ProductIndex::to_bytes`]'s output, held in memory and
    /// searchable as it was; bytes of another format or cut short are an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SearchError> {
        let mut rest = bytes
            .strip_prefix(FORMAT)
            .ok_or_else(|| file_error("not a search index of this version".into()))?;
        let directory = RamDirectory::create();
        let mut labels = None;
        while !rest.is_empty() {
            let (name, data, next) =
                take_part(rest).ok_or_else(|| file_error("the index is cut short".into()))?;
            rest = next;
            if name == LABELS_PART {
                labels = Some(
                    serde_json::from_slice::<StoredLabels>(data)
                        .map_err(|e| file_error(format!("labels: {e}")))?,
                );
                continue;
            }
            directory
                .atomic_write(Path::new(name), data)
                .map_err(|e| file_error(format!("{name}: {e}")))?;
        }
        let stored = labels.ok_or_else(|| file_error("the index has no labels".into()))?;
        let labels = Labels {
            names: stored.names.into_iter().collect(),
            values: stored
                .values
                .into_iter()
                .map(|(n, k, v)| ((n, k), v))
                .collect(),
        };
        Self::open(Index::open(directory)?, labels)
    }

    /// Index `p`, replacing what was indexed for it (searchable after [`ProductIndex::commit`]).
    pub fn put(&self, p: &Product) -> Result<(), SearchError> {
        let doc = self.document(p);
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.delete_term(Term::from_field_text(self.fields.id, &p.id));
        writer.add_document(doc)?;
        Ok(())
    }

    /// Index `p`, known not to be in the index (a build): unlike [`ProductIndex::put`], no
    /// delete is queued, and the writer keeps every delete until the next commit.
    pub fn add_new(&self, p: &Product) -> Result<(), SearchError> {
        let doc = self.document(p);
        self.writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add_document(doc)?;
        Ok(())
    }

    /// `p` as the index stores it (its option labels noted).
    fn document(&self, p: &Product) -> TantivyDocument {
        let f = self.fields;
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &p.id);
        doc.add_text(f.name, &p.name);
        doc.add_text(f.description, &p.description);
        doc.add_text(f.name_key, fold(&p.name));
        let price = p.price_from().centavos().max(0);
        doc.add_u64(f.price, price as u64);
        doc.add_u64(f.created, p.created_at.millis().max(0) as u64);
        doc.add_u64(f.active, u64::from(p.active));
        if let Some(c) = &p.category_id {
            doc.add_facet(f.facets, Facet::from_path([CATEGORY, c.as_str()]));
        }
        doc.add_facet(
            f.facets,
            Facet::from_path([PRICE, &price_range(price).to_string()]),
        );
        let mut labels = self.labels.write().unwrap_or_else(|e| e.into_inner());
        let mut seen = std::collections::HashSet::new();
        for v in &p.variants {
            for (name, value) in &v.options {
                let (n, k) = (option_key(name), option_key(value));
                if n.is_empty() || k.is_empty() || !seen.insert((n.clone(), k.clone())) {
                    continue;
                }
                doc.add_facet(f.facets, Facet::from_path([OPTION, &n, &k]));
                labels
                    .names
                    .entry(n.clone())
                    .or_insert_with(|| name.trim().to_owned());
                labels
                    .values
                    .entry((n, k))
                    .or_insert_with(|| value.trim().to_owned());
            }
        }
        drop(labels);
        doc
    }

    /// Drop product `id` from the index (on [`ProductIndex::commit`]).
    pub fn remove(&self, id: &str) {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        writer.delete_term(Term::from_field_text(self.fields.id, id));
    }

    /// Make every change so far searchable.
    pub fn commit(&self) -> Result<(), SearchError> {
        self.writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// How many products are searchable.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the searchable segments take, and how many segments there are.
    pub fn size(&self) -> (u64, usize) {
        let searcher = self.reader.searcher();
        let bytes = searcher
            .space_usage()
            .map(|u| u.total().get_bytes())
            .unwrap_or(0);
        (bytes, searcher.segment_readers().len())
    }

    /// One page of results for `q`, with the count and facets of all of them. Words that are
    /// all stop words (`de`) find nothing.
    pub fn search(&self, q: &SearchQuery<'_>) -> Result<SearchResult, SearchError> {
        let Some(query) = self.query(q) else {
            return Ok(SearchResult::default());
        };
        let searcher = self.reader.searcher();
        let names: Vec<String> = self
            .labels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .names
            .keys()
            .take(MAX_OPTION_FACETS)
            .cloned()
            .collect();
        let mut facets = FacetCollector::for_field("facets");
        facets.add_facet(Facet::from_path([CATEGORY]));
        facets.add_facet(Facet::from_path([PRICE]));
        for n in &names {
            facets.add_facet(Facet::from_path([OPTION, n.as_str()]));
        }
        let top = TopDocs::with_limit(q.limit.max(1)).and_offset(q.offset);
        let (addresses, total, counts) = match q.order {
            SearchOrder::Relevance => {
                let (top, total, counts) =
                    searcher.search(&query, &(top.order_by_score(), Count, facets))?;
                (top.into_iter().map(|(_, a)| a).collect(), total, counts)
            }
            SearchOrder::Newest | SearchOrder::PriceAsc | SearchOrder::PriceDesc => {
                let (field, order) = match q.order {
                    SearchOrder::Newest => ("created", Order::Desc),
                    SearchOrder::PriceAsc => ("price", Order::Asc),
                    _ => ("price", Order::Desc),
                };
                let (top, total, counts) = searcher.search(
                    &query,
                    &(top.order_by_fast_field::<u64>(field, order), Count, facets),
                )?;
                (top.into_iter().map(|(_, a)| a).collect(), total, counts)
            }
            SearchOrder::Name => {
                let (top, total, counts) = searcher.search(
                    &query,
                    &(
                        top.order_by_string_fast_field(NAME_KEY, Order::Asc),
                        Count,
                        facets,
                    ),
                )?;
                (top.into_iter().map(|(_, a)| a).collect(), total, counts)
            }
        };
        let ids = self.ids(&searcher, addresses)?;
        let labels = self.labels.read().unwrap_or_else(|e| e.into_inner());
        let segment = |f: &Facet, i: usize| -> String {
            f.to_path()
                .get(i)
                .map(|s| (*s).to_owned())
                .unwrap_or_default()
        };
        let categories = counts
            .get(&Facet::from_path([CATEGORY]).to_string())
            .map(|(f, n)| (segment(f, 1), n))
            .collect();
        let mut prices: Vec<(i64, Option<i64>, u64)> = counts
            .get(&Facet::from_path([PRICE]).to_string())
            .filter_map(|(f, n)| {
                let i: usize = segment(f, 1).parse().ok()?;
                let from = *PRICE_BOUNDS.get(i)?;
                let to = PRICE_BOUNDS.get(i + 1).map(|next| next - 1);
                Some((from, to, n))
            })
            .collect();
        prices.sort();
        let options = names
            .iter()
            .filter_map(|n| {
                let mut values: Vec<OptionValue> = counts
                    .get(&Facet::from_path([OPTION, n.as_str()]).to_string())
                    .map(|(f, count)| {
                        let key = segment(f, 2);
                        let label = labels
                            .values
                            .get(&(n.clone(), key.clone()))
                            .cloned()
                            .unwrap_or_else(|| key.clone());
                        OptionValue { key, label, count }
                    })
                    .collect();
                if values.is_empty() {
                    return None;
                }
                values.sort_by(|a, b| b.count.cmp(&a.count).then(a.label.cmp(&b.label)));
                Some(OptionFacet {
                    name: n.clone(),
                    label: labels.names.get(n).cloned().unwrap_or_else(|| n.clone()),
                    values,
                })
            })
            .collect();
        Ok(SearchResult {
            ids,
            total,
            facets: Facets {
                categories,
                options,
                prices,
            },
        })
    }

    fn ids(
        &self,
        searcher: &Searcher,
        addresses: Vec<DocAddress>,
    ) -> Result<Vec<String>, SearchError> {
        let mut ids = Vec::with_capacity(addresses.len());
        for a in addresses {
            let doc: TantivyDocument = searcher.doc(a)?;
            if let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()) {
                ids.push(id.to_owned());
            }
        }
        Ok(ids)
    }

    /// The query: every word (in the name or the description, exactly or with a typo) and every
    /// filter. `None` when the text has no searchable word.
    fn query(&self, q: &SearchQuery<'_>) -> Option<BooleanQuery> {
        let f = self.fields;
        let mut stem = self.stemmed.clone();
        let mut words = self.whole.clone();
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut stream = words.token_stream(q.text);
        let mut any = false;
        while stream.advance() {
            let word = stream.token().text.clone();
            let mut stemmed = stem.token_stream(&word);
            let Some(term) = stemmed.advance().then(|| stemmed.token().text.clone()) else {
                continue;
            };
            any = true;
            let mut either: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (field, boost) in [(f.name, 3.0), (f.description, 1.0)] {
                let t = Term::from_field_text(field, &term);
                either.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(t.clone(), IndexRecordOption::WithFreqs)),
                        boost,
                    )),
                ));
                if word.chars().count() >= FUZZY_FROM_LETTERS {
                    either.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(
                            Box::new(FuzzyTermQuery::new(t, 1, true)),
                            boost * 0.3,
                        )),
                    ));
                }
            }
            must.push((Occur::Must, Box::new(BooleanQuery::new(either))));
        }
        if !any {
            return None;
        }
        let filter = |q: Box<dyn Query>| -> (Occur, Box<dyn Query>) {
            (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
        };
        let facet = |path: &[&str]| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_facet(f.facets, &Facet::from_path(path.iter().copied())),
                IndexRecordOption::Basic,
            ))
        };
        if !q.include_inactive {
            must.push(filter(Box::new(TermQuery::new(
                Term::from_field_u64(f.active, 1),
                IndexRecordOption::Basic,
            ))));
        }
        if let Some(ids) = q.categories {
            let any_of = ids
                .iter()
                .map(|c| (Occur::Should, facet(&[CATEGORY, c.as_str()])))
                .collect();
            must.push(filter(Box::new(BooleanQuery::new(any_of))));
        }
        if q.min_price.is_some() || q.max_price.is_some() {
            let bound = |v: Option<i64>| match v {
                Some(v) => Bound::Included(Term::from_field_u64(f.price, v.max(0) as u64)),
                None => Bound::Unbounded,
            };
            must.push(filter(Box::new(RangeQuery::new(
                bound(q.min_price),
                bound(q.max_price),
            ))));
        }
        let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (n, v) in q.options {
            by_name.entry(n.as_str()).or_default().push(v.as_str());
        }
        for (n, values) in by_name {
            let any_of = values
                .into_iter()
                .map(|v| (Occur::Should, facet(&[OPTION, n, v])))
                .collect();
            must.push(filter(Box::new(BooleanQuery::new(any_of))));
        }
        Some(BooleanQuery::new(must))
    }
}

impl std::fmt::Debug for ProductIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductIndex")
            .field("products", &self.len())
            .finish()
    }
}

/// Portuguese text to index terms: words, at most 40 letters, lowercased, accents folded, stop
/// words dropped, and stemmed (`stem`) or left whole (to tell a word's length).
fn analyzer(stem: bool) -> TextAnalyzer {
    let builder = TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(
            StopWordFilter::new(Language::Portuguese).expect("tantivy has Portuguese stop words"),
        );
    if stem {
        builder.filter(Stemmer::new(Language::Portuguese)).build()
    } else {
        builder.build()
    }
}

/// The folded form an option name or value is matched by: `Azul`, `azul ` and `AZUL` are one.
pub fn option_key(s: &str) -> String {
    fold(s.trim())
}

/// The first bytes of [`ProductIndex::to_bytes`]'s output: a change to the schema or the
/// analysers is a new format, and an index of another format is built again rather than read.
const FORMAT: &[u8] = b"vitrine-search-index/1\n";

/// The part of the bytes that holds the option labels (not a file of the index).
const LABELS_PART: &str = "#labels";

/// tantivy's own files: the list of segments, and the files it manages.
const META_FILE: &str = "meta.json";
const MANAGED_FILE: &str = ".managed.json";

/// The option labels as stored with the index.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredLabels {
    names: Vec<(String, String)>,
    values: Vec<(String, String, String)>,
}

/// Append a named part: name length (u32, little-endian), name, data length (u64), data.
fn put_part(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend_from_slice(data);
}

/// The part at the start of `bytes` and what follows it; `None` when it is cut short.
fn take_part(bytes: &[u8]) -> Option<(&str, &[u8], &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    let name = std::str::from_utf8(rest.get(..len)?).ok()?;
    let (data_len, rest) = rest.get(len..)?.split_first_chunk::<8>()?;
    let data_len = usize::try_from(u64::from_le_bytes(*data_len)).ok()?;
    let data = rest.get(..data_len)?;
    Some((name, data, rest.get(data_len..)?))
}

fn file_error(message: String) -> SearchError {
    SearchError(tantivy::TantivyError::InternalError(message))
}

/// The range of [`PRICE_BOUNDS`] a price falls in.
fn price_range(centavos: i64) -> usize {
    PRICE_BOUNDS
        .iter()
        .rposition(|b| centavos >= *b)
        .unwrap_or(0)
}

// ----- the index of a process, and the changes it has not seen -----

/// Products read per page while building the index.
pub(crate) const BUILD_PAGE: usize = 500;

/// The most changed products remembered for the index; past it the oldest are forgotten and an
/// index that had not seen them is rebuilt.
const CHANGES_KEPT: usize = 10_000;

/// A built index and what it has seen.
pub struct Built {
    pub index: ProductIndex,
    /// The last change of this process (by sequence number) the index holds; applied one
    /// search at a time.
    pub(crate) applied: tokio::sync::Mutex<u64>,
    /// Where the index stands in the catalog's change feed (`store::catalog::product_changes`).
    pub(crate) feed: tokio::sync::Mutex<FeedPosition>,
    /// When the feed was last read, in ms: the next read is due `catalog_cache_secs` later.
    pub(crate) checked_at_ms: AtomicI64,
    /// The published index this one was opened from or published as
    /// (`crate::search_published`); `None` for one built by this process and not published.
    pub(crate) version: Mutex<Option<String>>,
}

impl Built {
    /// A new index, built from what the table held at `at_ms`, holding this process's changes
    /// up to `seq` and the feed's changes `seen`.
    pub(crate) fn new(index: ProductIndex, at_ms: i64, seq: u64, seen: HashSet<String>) -> Self {
        Self {
            index,
            applied: tokio::sync::Mutex::new(seq),
            feed: tokio::sync::Mutex::new(FeedPosition {
                read_to_ms: at_ms,
                seen,
            }),
            checked_at_ms: AtomicI64::new(at_ms),
            version: Mutex::new(None),
        }
    }

    /// The published version this index is, if any.
    pub(crate) fn version(&self) -> Option<String> {
        self.version
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_version(&self, version: String) {
        *self.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(version);
    }
}

/// How far an index has read the catalog's change feed.
pub(crate) struct FeedPosition {
    /// Every change made before this time (less the feed's overlap) is in the index.
    pub read_to_ms: i64,
    /// The changes already applied among those the next read sees again (the overlap).
    pub seen: HashSet<String>,
}

/// The index of this process and the products changed through it.
#[derive(Default)]
pub struct SearchState {
    current: RwLock<Option<Arc<Built>>>,
    changes: Mutex<Changes>,
    /// A build is under way (the first, or a refresh in the background).
    pub(crate) building: AtomicBool,
    /// The first build, awaited by every search that finds no index.
    pub(crate) first: tokio::sync::Mutex<()>,
    /// Open the index the blob store holds (`crate::search_published`) rather than build one
    /// from the catalog: [`crate::App::open_published_search_index`].
    pub(crate) published: AtomicBool,
    /// Turns to run a search: at most [`SEARCHES_AT_ONCE`] at a time.
    pub(crate) turns: Turns,
}

/// How many searches run at once in a process; each one already spreads over up to
/// `SEARCH_THREADS` threads, so more at once only share the same cores. The others wait for a
/// turn without holding a request worker.
pub const SEARCHES_AT_ONCE: usize = 2;

/// See [`SearchState::turns`].
pub(crate) struct Turns(tokio::sync::Semaphore);

impl Default for Turns {
    fn default() -> Self {
        Self(tokio::sync::Semaphore::new(SEARCHES_AT_ONCE))
    }
}

impl std::ops::Deref for Turns {
    type Target = tokio::sync::Semaphore;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

#[derive(Default)]
struct Changes {
    /// The sequence number of the last change.
    seq: u64,
    /// Changed product ids with their sequence numbers, oldest first.
    log: VecDeque<(u64, String)>,
    /// Changes up to this sequence number were forgotten.
    forgotten: u64,
}

impl SearchState {
    /// Products `ids` changed (written through this process).
    pub fn changed<'a>(&self, ids: impl Iterator<Item = &'a str>) {
        let mut c = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            c.seq += 1;
            let seq = c.seq;
            c.log.push_back((seq, id.to_owned()));
        }
        while c.log.len() > CHANGES_KEPT {
            if let Some((seq, _)) = c.log.pop_front() {
                c.forgotten = seq;
            }
        }
    }

    pub(crate) fn current(&self) -> Option<Arc<Built>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn seq(&self) -> u64 {
        self.changes.lock().unwrap_or_else(|e| e.into_inner()).seq
    }

    /// The products changed after `applied`, and the last change's number; `None` when some
    /// of them were forgotten.
    pub(crate) fn since(&self, applied: u64) -> Option<(Vec<String>, u64)> {
        let c = self.changes.lock().unwrap_or_else(|e| e.into_inner());
        if c.forgotten > applied {
            return None;
        }
        let ids: BTreeSet<&str> = c
            .log
            .iter()
            .filter(|(seq, _)| *seq > applied)
            .map(|(_, id)| id.as_str())
            .collect();
        Some((ids.into_iter().map(str::to_owned).collect(), c.seq))
    }

    pub(crate) fn install(&self, built: Built) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(built));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::listing::tests::a_product;

    fn product(
        id: &str,
        name: &str,
        description: &str,
        category: &str,
        centavos: i64,
        options: &[(&str, &str)],
    ) -> Product {
        let mut p = a_product(id, &format!("p-{}", id.to_lowercase()), id, centavos);
        p.name = name.into();
        p.description = description.into();
        p.category_id = Some(category.into());
        p.created_at = vitrine_domain::Timestamp::from_millis(id.len() as i64 * 1000);
        p.variants[0].options = options
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        p
    }

    fn catalog() -> ProductIndex {
        let index = ProductIndex::new().unwrap();
        for p in [
            product(
                "A",
                "Caneca de Cerâmica",
                "Para café",
                "casa",
                3_990,
                &[("Cor", "Branca")],
            ),
            product(
                "BB",
                "Camiseta de Algodão",
                "Macia e fresca",
                "camisetas",
                7_990,
                &[("Cor", "Azul"), ("Tamanho", "M")],
            ),
            product(
                "CCC",
                "Calça Jeans",
                "Combina com uma camiseta",
                "calcas",
                15_990,
                &[("cor", "azul "), ("Tamanho", "G")],
            ),
            product(
                "DDDD",
                "Camiseta Polo",
                "Algodão pima",
                "camisetas",
                59_900,
                &[("Cor", "Preta")],
            ),
        ] {
            index.put(&p).unwrap();
        }
        index.commit().unwrap();
        index
    }

    fn query(text: &str) -> SearchQuery<'_> {
        SearchQuery {
            text,
            categories: None,
            min_price: None,
            max_price: None,
            options: &[],
            include_inactive: false,
            order: SearchOrder::Relevance,
            offset: 0,
            limit: 10,
        }
    }

    fn ids(index: &ProductIndex, q: &SearchQuery<'_>) -> Vec<String> {
        index.search(q).unwrap().ids
    }

    #[test]
    fn plurals_accents_case_and_one_typo_are_found() {
        let index = catalog();
        assert_eq!(ids(&index, &query("canecas")), ["A"]);
        assert_eq!(ids(&index, &query("CERAMICA")), ["A"]);
        assert_eq!(ids(&index, &query("camiseta algodao")), ["BB", "DDDD"]);
        assert_eq!(ids(&index, &query("camisteta algodão")), ["BB", "DDDD"]);
        // A short word forgives no typo; stop words alone find nothing.
        assert!(ids(&index, &query("cfé")).is_empty());
        assert!(ids(&index, &query("de")).is_empty());
    }

    #[test]
    fn a_word_in_the_name_ranks_above_the_same_word_in_the_description() {
        let index = catalog();
        let found = ids(&index, &query("camiseta"));
        assert_eq!(found.len(), 3);
        assert_eq!(found[2], "CCC", "{found:?}");
    }

    #[test]
    fn filters_and_orders() {
        let index = catalog();
        let cheap = SearchQuery {
            max_price: Some(10_000),
            ..query("camiseta")
        };
        assert_eq!(ids(&index, &cheap), ["BB"]);
        let blue = [("cor".to_owned(), "azul".to_owned())];
        let q = SearchQuery {
            options: &blue,
            order: SearchOrder::PriceDesc,
            ..query("camiseta")
        };
        assert_eq!(ids(&index, &q), ["CCC", "BB"]);
        let shirts = ["camisetas".to_owned()];
        let q = SearchQuery {
            categories: Some(&shirts),
            order: SearchOrder::Name,
            ..query("camiseta")
        };
        assert_eq!(ids(&index, &q), ["BB", "DDDD"]);
        let q = SearchQuery {
            order: SearchOrder::Newest,
            offset: 1,
            limit: 1,
            ..query("camiseta")
        };
        let page = index.search(&q).unwrap();
        assert_eq!((page.ids, page.total), (vec!["CCC".to_owned()], 3));
    }

    #[test]
    fn facets_count_every_result() {
        let index = catalog();
        let f = index.search(&query("camiseta")).unwrap().facets;
        let mut categories = f.categories.clone();
        categories.sort();
        assert_eq!(
            categories,
            [("calcas".to_owned(), 1), ("camisetas".to_owned(), 2)]
        );
        assert_eq!(
            f.prices,
            [
                (5_000, Some(9_999), 1),
                (10_000, Some(19_999), 1),
                (50_000, None, 1)
            ]
        );
        let cor = f.options.iter().find(|o| o.name == "cor").unwrap();
        assert_eq!(cor.label, "Cor");
        let counts: Vec<(&str, &str, u64)> = cor
            .values
            .iter()
            .map(|v| (v.key.as_str(), v.label.as_str(), v.count))
            .collect();
        assert_eq!(counts, [("azul", "Azul", 2), ("preta", "Preta", 1)]);
    }

    #[test]
    fn a_product_put_again_replaces_itself_and_a_removed_one_is_gone() {
        let index = catalog();
        let mut p = product("A", "Xícara", "", "casa", 1_000, &[]);
        index.put(&p).unwrap();
        index.commit().unwrap();
        assert!(ids(&index, &query("caneca")).is_empty());
        assert_eq!(ids(&index, &query("xicaras")), ["A"]);
        p.active = false;
        index.put(&p).unwrap();
        index.commit().unwrap();
        assert!(ids(&index, &query("xicara")).is_empty());
        let admin = SearchQuery {
            include_inactive: true,
            ..query("xicara")
        };
        assert_eq!(ids(&index, &admin), ["A"]);
        index.remove("A");
        index.commit().unwrap();
        assert!(ids(&index, &admin).is_empty());
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn an_index_read_back_from_its_bytes_searches_counts_and_changes_as_before() {
        let index = catalog();
        // A delete and a second segment, so the bytes hold more than one commit's files.
        index.remove("CCC");
        index
            .put(&product(
                "E",
                "Vela de soja",
                "Aroma de lavanda",
                "casa",
                2_500,
                &[],
            ))
            .unwrap();
        index.commit().unwrap();
        let bytes = index.to_bytes().unwrap();
        let copy = ProductIndex::from_bytes(&bytes).unwrap();
        assert_eq!(copy.len(), index.len());
        for text in ["camisetas", "algodao", "camisteta", "velas", "calca"] {
            assert_eq!(
                copy.search(&query(text)).unwrap(),
                index.search(&query(text)).unwrap(),
                "{text}"
            );
        }
        // The facets keep their labels as first written.
        let cores = &copy.search(&query("camiseta")).unwrap().facets.options[0];
        assert_eq!(cores.label, "Cor");
        // The copy takes changes of its own; the original does not see them.
        copy.put(&product("F", "Caneca grande", "", "casa", 4_500, &[]))
            .unwrap();
        copy.commit().unwrap();
        assert_eq!(ids(&copy, &query("canecas")).len(), 2);
        assert_eq!(ids(&index, &query("canecas")), ["A"]);
        // And its own bytes read back again.
        let again = ProductIndex::from_bytes(&copy.to_bytes().unwrap()).unwrap();
        assert_eq!(again.len(), copy.len());
    }

    #[test]
    fn bytes_of_another_format_or_cut_short_are_refused() {
        let bytes = catalog().to_bytes().unwrap();
        assert!(ProductIndex::from_bytes(b"PK\x03\x04 a zip file").is_err());
        assert!(ProductIndex::from_bytes(&bytes[..bytes.len() - 10]).is_err());
        assert!(ProductIndex::from_bytes(&bytes[..FORMAT.len() + 3]).is_err());
        assert!(
            ProductIndex::from_bytes(FORMAT).is_err(),
            "no labels, no files"
        );
    }
}
