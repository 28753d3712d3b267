//! An [`App`] on in-memory adapters (vitrine-testkit's `MemTable`, `MemBlobs`, `Users` and the
//! recording transports), a manual clock and the Pix sandbox: the use cases end to end with no
//! socket, no file and no engine.

use std::collections::HashMap;
use std::sync::Arc;

use vitrine_app::auth::Principal;
use vitrine_app::checkout::{CheckoutInput, Destination, IdempotencyKey, Placed};
use vitrine_app::invoices::Fiscal;
use vitrine_app::payments::sandbox::{PixAccount, PixSandbox, SIGNATURE_HEADER, WebhookSigner};
use vitrine_app::payments::{PayInput, Settlement, WebhookInput};
use vitrine_app::ports::{Clock, Identity, ManualClock, PaymentProvider, Table, UlidIds};
use vitrine_app::{App, AppResult, Ports, Settings};
use vitrine_domain::Timestamp;
use vitrine_domain::br::{Cep, TaxId, Uf};
use vitrine_domain::cart::{CartLine, Quantity};
use vitrine_domain::catalog::{Category, Product, ProductDraft, Sku};
use vitrine_domain::order::{Address, PaymentMethod};
use vitrine_testkit::doubles::{MemBlobs, RecordingMailer, RecordingSms, Users};
use vitrine_testkit::mem_table::MemTable;

pub use vitrine_testkit::catalog::{draft, variant};

/// 2025-06-15T15:06:40Z: where every world's clock starts.
pub const T0: i64 = 1_750_000_000;
/// The sandbox's webhook secret.
const WEBHOOK_SECRET: &[u8] = b"a-webhook-secret-for-fast-tests";

pub struct World {
    pub app: Arc<App>,
    pub ports: Ports,
    pub blobs: Arc<MemBlobs>,
    /// What the app e-mailed (and, on cue, a transport that fails).
    pub mailer: Arc<RecordingMailer>,
    pub clock: Arc<ManualClock>,
    signer: WebhookSigner,
}

impl World {
    /// No NF-e issuing.
    pub fn new() -> Self {
        Self::with_fiscal(None)
    }

    pub fn with_fiscal(fiscal: Option<Arc<Fiscal>>) -> Self {
        Self::build(fiscal, None, Arc::new(Users::default()))
    }

    /// The identity provider replaced by `identity`.
    pub fn with_identity(identity: Arc<dyn Identity>) -> Self {
        Self::build(None, None, identity)
    }

    /// The Pix sandbox replaced by `pix` (a real provider's double).
    pub fn with_pix(pix: Arc<dyn PaymentProvider>) -> Self {
        Self::build(None, Some(pix), Arc::new(Users::default()))
    }

    /// The memory table behind `wrap` (a counting table in front of it, say).
    pub fn on_table(wrap: impl FnOnce(Arc<dyn Table>) -> Arc<dyn Table>) -> Self {
        Self::build_on(None, None, Arc::new(Users::default()), wrap)
    }

    /// Another process on this world's table and clock: another instance, a warm Lambda.
    pub fn other_process(&self) -> Arc<App> {
        App::new(self.ports.clone(), Settings::default())
    }

    fn build(
        fiscal: Option<Arc<Fiscal>>,
        provider: Option<Arc<dyn PaymentProvider>>,
        identity: Arc<dyn Identity>,
    ) -> Self {
        Self::build_on(fiscal, provider, identity, |t| t)
    }

    fn build_on(
        fiscal: Option<Arc<Fiscal>>,
        provider: Option<Arc<dyn PaymentProvider>>,
        identity: Arc<dyn Identity>,
        wrap: impl FnOnce(Arc<dyn Table>) -> Arc<dyn Table>,
    ) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from_secs(T0)));
        let table = wrap(Arc::new(MemTable::with_clock(clock.clone())));
        let blobs = Arc::new(MemBlobs::default());
        let mailer = Arc::new(RecordingMailer::default());
        let signer = WebhookSigner::new(WEBHOOK_SECRET.to_vec()).unwrap();
        let pix = PixSandbox::new(
            PixAccount {
                key: "pix-sandbox@vitrine.invalid".into(),
                merchant_name: "vitrine".into(),
                merchant_city: "SAO PAULO".into(),
            },
            signer.clone(),
        )
        .unwrap();
        let ports = Ports {
            table: table.clone(),
            blobs: blobs.clone(),
            identity,
            mailer: mailer.clone(),
            sms: Arc::new(RecordingSms::default()),
            clock: clock.clone(),
            ids: Arc::new(UlidIds),
            payments: vec![provider.unwrap_or_else(|| Arc::new(pix))],
            fiscal,
            uploads: Arc::new(vitrine_app::uploads::SignedUploads::random()),
            shipping: None,
        };
        Self {
            app: App::new(ports.clone(), Settings::default()),
            ports,
            blobs,
            mailer,
            clock,
            signer,
        }
    }

    /// An active product with one variant `sku` at R$ 50,00, `stock` units.
    /// A category tree: Roupas > (Camisetas, Calças), and Casa, in that order.
    pub async fn clothes_and_home(&self) -> Vec<Category> {
        let app = &self.app;
        let roupas = app.create_category("Roupas", None, None, 0).await.unwrap();
        let camisetas = app
            .create_category("Camisetas", None, Some(roupas.id.clone()), 0)
            .await
            .unwrap();
        let calcas = app
            .create_category("Calças", None, Some(roupas.id.clone()), 1)
            .await
            .unwrap();
        let casa = app.create_category("Casa", None, None, 1).await.unwrap();
        vec![roupas, camisetas, calcas, casa]
    }

    /// [`World::clothes_and_home`] and `n` products made by `draft` from their number and
    /// category (the four in turn, then none), five units of each SKU.
    pub async fn catalog_of(
        &self,
        n: usize,
        draft: impl Fn(usize, Option<&Category>) -> ProductDraft,
    ) -> (Vec<Category>, Vec<Product>) {
        let cats = self.clothes_and_home().await;
        let mut products = Vec::new();
        for i in 0..n {
            let d = draft(i, cats.get(i % 5));
            let stock = d.variants.iter().map(|v| (v.sku.clone(), 5)).collect();
            products.push(self.app.create_product(d, &stock).await.unwrap());
        }
        (cats, products)
    }

    pub async fn product(&self, slug: &str, sku: &str, stock: i64) -> Product {
        let sku = Sku::parse(sku).unwrap();
        let draft = draft(
            format!("Produto {slug}"),
            vec![variant(sku.as_str(), 5_000)],
        );
        self.app
            .create_product(draft, &HashMap::from([(sku, stock)]))
            .await
            .unwrap()
    }

    /// A customer with a profile (through `App::create_user`), as their principal.
    pub async fn customer(&self, email: &str) -> Principal {
        let sub = self
            .app
            .create_user(email, "senha-forte-123", "Ana Souza", false)
            .await
            .unwrap();
        Principal {
            sub,
            groups: vec!["customer".into()],
            username: None,
            email: Some(email.to_owned()),
            session: None,
            issued_at: 0,
        }
    }

    /// Delete every item of each of the `partitions` (up to 1,000 each) and the `keys`, as in a
    /// table written by a version from before those items existed.
    pub async fn forget(&self, partitions: &[String], keys: &[vitrine_app::ports::Key]) {
        use vitrine_app::ports::{Index, Query, WriteOp};
        let table = &self.app.ports.table;
        let mut doomed = keys.to_vec();
        for pk in partitions {
            let page = table
                .query(Query::new(Index::Primary, pk.clone()).limit(1_000))
                .await
                .unwrap();
            doomed.extend(page.items.into_iter().map(|i| i.key));
        }
        for chunk in doomed.chunks(100) {
            let ops = chunk
                .iter()
                .map(|key| WriteOp::Delete {
                    key: key.clone(),
                    condition: None,
                })
                .collect();
            table.write(ops).await.unwrap();
        }
    }

    /// How many blobs are stored under `prefix`.
    pub async fn blobs_under(&self, prefix: &str) -> usize {
        use vitrine_app::ports::Blobs as _;
        self.blobs.list(prefix).await.unwrap().len()
    }

    /// How many blobs under `prefix` have a name ending in `suffix`.
    pub async fn blobs_ending(&self, prefix: &str, suffix: &str) -> usize {
        use vitrine_app::ports::Blobs as _;
        let files = self.blobs.list(prefix).await.unwrap();
        files.iter().filter(|f| f.key.ends_with(suffix)).count()
    }

    pub async fn available(&self, sku: &str) -> i64 {
        self.app
            .available(&Sku::parse(sku).unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    /// Place a "buy now" order of `quantity` × `sku`, to be paid by Pix.
    pub async fn place(
        &self,
        who: &Principal,
        sku: &str,
        quantity: u32,
        key: &str,
    ) -> AppResult<Placed> {
        let key = IdempotencyKey::parse(key.as_bytes())?;
        self.app
            .place_order(who, buy_now(sku, quantity), &key)
            .await
    }

    /// Charge the order by Pix, then confirm the charge with one signed sandbox webhook per
    /// notice id (a provider may send a payment's notice again, or under another id): what
    /// each settled.
    pub async fn pay_by_pix(
        &self,
        who: &Principal,
        order_id: &str,
        notices: &[&str],
    ) -> Vec<AppResult<Settlement>> {
        let payment = self
            .app
            .pay_order(who, order_id, PayInput::Pix)
            .await
            .unwrap();
        let mut settled = Vec::new();
        for notice in notices {
            let body = serde_json::json!({
                "id": notice,
                "type": "pix.paid",
                "txid": payment.txid.clone().unwrap(),
                "amount_centavos": payment.amount.centavos(),
                "end_to_end_id": format!("E{order_id}"),
            })
            .to_string();
            let signature = self.signer.sign(self.clock.now().secs(), body.as_bytes());
            let header = move |name: &str| (name == SIGNATURE_HEADER).then(|| signature.clone());
            settled.push(
                self.app
                    .payment_webhook(&WebhookInput {
                        provider: "pix",
                        subpath: "",
                        header: &header,
                        query: &|_: &str| None,
                        body: body.as_bytes(),
                    })
                    .await
                    .map(|mut all| {
                        assert_eq!(all.len(), 1, "one notice item per sandbox webhook");
                        all.remove(0)
                    }),
            );
        }
        settled
    }

    /// [`World::pay_by_pix`] with one notice, which must pay the order.
    pub async fn pay(&self, who: &Principal, order_id: &str) {
        let settled = self
            .pay_by_pix(who, order_id, &[&format!("N{order_id}")])
            .await;
        assert!(matches!(settled[..], [Ok(Settlement::Paid)]), "{settled:?}");
    }
}

/// "Buy now" `quantity` × `sku`, delivered to an address in São Paulo by PAC, paid by Pix.
/// A variant `sku` (size M, 300 g) at `centavos`.
pub fn buy_now(sku: &str, quantity: u32) -> CheckoutInput {
    CheckoutInput {
        items: Some(vec![CartLine {
            sku: Sku::parse(sku).unwrap(),
            quantity: Quantity::parse(i64::from(quantity)).unwrap(),
        }]),
        destination: Destination::Address(Address {
            recipient: "Ana Souza".into(),
            street: "Av. Paulista".into(),
            number: "1000".into(),
            complement: Some("apto 42".into()),
            district: "Bela Vista".into(),
            city: "São Paulo".into(),
            uf: Uf::parse("SP").unwrap(),
            cep: Cep::parse("01310100").unwrap(),
        }),
        shipping_method: "pac".into(),
        coupon: None,
        payment_method: PaymentMethod::Pix,
        tax_id: Some(TaxId::parse("52998224725").unwrap()),
    }
}
