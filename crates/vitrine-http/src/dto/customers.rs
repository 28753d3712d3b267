//! Customers: addresses, saved addresses, the profile.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vitrine_app::customers::{Language, Profile, SavedAddress};
use vitrine_domain::br::{Cep, TaxId, Uf};
use vitrine_domain::contact::Phone;
use vitrine_domain::order::Address;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressDto {
    pub recipient: String,
    pub street: String,
    pub number: String,
    pub complement: Option<String>,
    pub district: String,
    pub city: String,
    #[schema(value_type = String, example = "SP")]
    pub uf: Uf,
    #[schema(value_type = String, example = "01310-100")]
    pub cep: Cep,
}

impl From<AddressDto> for Address {
    fn from(a: AddressDto) -> Self {
        Address {
            recipient: a.recipient,
            street: a.street,
            number: a.number,
            complement: a.complement,
            district: a.district,
            city: a.city,
            uf: a.uf,
            cep: a.cep,
        }
    }
}

impl From<&Address> for AddressDto {
    fn from(a: &Address) -> Self {
        AddressDto {
            recipient: a.recipient.clone(),
            street: a.street.clone(),
            number: a.number.clone(),
            complement: a.complement.clone(),
            district: a.district.clone(),
            city: a.city.clone(),
            uf: a.uf,
            cep: a.cep.clone(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SavedAddressInput {
    pub label: Option<String>,
    #[serde(flatten)]
    pub address: AddressDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SavedAddressDto {
    pub id: String,
    pub label: Option<String>,
    #[serde(flatten)]
    pub address: AddressDto,
}

impl From<&SavedAddress> for SavedAddressDto {
    fn from(s: &SavedAddress) -> Self {
        Self {
            id: s.id.clone(),
            label: s.label.clone(),
            address: (&s.address).into(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileDto {
    pub id: String,
    pub email: String,
    pub name: String,
    /// CPF or CNPJ, digits only.
    pub tax_id: Option<String>,
    pub phone: Option<String>,
    pub sms_opt_in: bool,
    #[schema(example = "pt-BR")]
    pub language: String,
    pub groups: Vec<String>,
    /// Consent to marketing e-mails and when it was given or withdrawn (absent: never asked).
    pub marketing_emails: Option<ConsentDto>,
    /// Whether a cart left untouched gets a reminder e-mail.
    pub cart_reminders: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentDto {
    pub granted: bool,
    pub at: String,
}

impl From<vitrine_app::customers::Consent> for ConsentDto {
    fn from(c: vitrine_app::customers::Consent) -> Self {
        Self {
            granted: c.granted,
            at: super::rfc3339(c.at),
        }
    }
}

impl ProfileDto {
    pub fn new(p: &Profile, groups: &[String]) -> Self {
        Self {
            id: p.sub.clone(),
            email: p.email.clone(),
            name: p.name.clone(),
            tax_id: p.tax_id.as_ref().map(|t| t.as_str().to_owned()),
            phone: p.phone.as_ref().map(|t| t.as_str().to_owned()),
            sms_opt_in: p.sms_opt_in,
            language: p.language.as_str().to_owned(),
            groups: groups.to_vec(),
            marketing_emails: p.marketing_emails.map(Into::into),
            cart_reminders: p.cart_reminders,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileInput {
    pub name: String,
    #[schema(value_type = Option<String>, example = "529.982.247-25")]
    pub tax_id: Option<TaxId>,
    #[schema(value_type = Option<String>, example = "+5511987654321")]
    pub phone: Option<Phone>,
    #[serde(default)]
    pub sms_opt_in: bool,
    #[schema(value_type = Option<String>, example = "pt-BR")]
    pub language: Option<Language>,
    /// Consent to marketing e-mails (recorded with the date it changed); absent: unchanged.
    pub marketing_emails: Option<bool>,
    /// Cart reminder e-mails on or off; absent: unchanged.
    pub cart_reminders: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomerSearchParams {
    /// The start of a word of the name, of the e-mail, or of the CPF/CNPJ or phone digits.
    #[param(example = "ana")]
    pub q: Option<String>,
    pub limit: Option<usize>,
    pub after: Option<String>,
}

/// A customer as the admin lists them.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerSummaryDto {
    pub sub: String,
    pub name: String,
    pub email: String,
    /// CPF or CNPJ, digits only.
    pub tax_id: Option<String>,
    #[schema(example = "+5511987654321")]
    pub phone: Option<String>,
    pub created_at: String,
}

impl From<&Profile> for CustomerSummaryDto {
    fn from(p: &Profile) -> Self {
        Self {
            sub: p.sub.clone(),
            name: p.name.clone(),
            email: p.email.clone(),
            tax_id: p.tax_id.as_ref().map(|t| t.as_str().to_owned()),
            phone: p.phone.as_ref().map(|t| t.as_str().to_owned()),
            created_at: super::rfc3339(p.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerListDto {
    pub items: Vec<CustomerSummaryDto>,
    pub next: Option<String>,
}

/// One customer for the admin: the profile and the saved addresses.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerDto {
    #[serde(flatten)]
    pub summary: CustomerSummaryDto,
    pub sms_opt_in: bool,
    #[schema(example = "pt-BR")]
    pub language: String,
    pub addresses: Vec<SavedAddressDto>,
}

impl CustomerDto {
    pub fn new(p: &Profile, addresses: &[SavedAddress]) -> Self {
        Self {
            summary: p.into(),
            sms_opt_in: p.sms_opt_in,
            language: p.language.as_str().to_owned(),
            addresses: addresses.iter().map(Into::into).collect(),
        }
    }
}
