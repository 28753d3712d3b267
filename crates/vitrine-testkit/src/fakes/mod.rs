//! Fakes of outside services that hold a client to the service's published spec.

pub mod mercadopago;
