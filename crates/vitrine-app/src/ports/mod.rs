//! Port traits: what the use cases need from the outside world. Adapters implement them;
//! the use cases receive them as `Arc<dyn …>`.

pub mod blobs;
pub mod clock;
pub mod fiscal;
pub mod identity;
pub mod mailer;
pub mod payments;
pub mod push;
pub mod shipping;
pub mod sms;
pub mod table;
pub mod uploads;

pub use blobs::{Blob, BlobError, BlobMeta, Blobs};
pub use clock::{Clock, Ids, ManualClock, SystemClock, UlidIds};
pub use fiscal::{
    Authoriser, FiscalAuthority, FiscalError, Registered, SignedNotTransmitted, Transmission,
};
pub use identity::{ClientInfo, Identity, IdentityError, NewUser, Tokens, UserInfo};
pub use mailer::{Attachment, Email, MailError, Mailer};
pub use payments::PaymentProvider;
pub use push::{Push, PushError, PushMessage};
pub use shipping::{Parcel, QuoteRequest, Shipping, ShippingError};
pub use sms::{Sms, SmsError, SmsMessage};
pub use table::{
    Condition, Cursor, Index, Item, Key, Page, Query, SortKey, Table, TableError, Update, Value,
    WriteOp,
};
pub use uploads::{UploadRefused, UploadSpec, UploadTarget, Uploads};
