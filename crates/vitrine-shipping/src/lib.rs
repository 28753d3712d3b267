//! Real carriers behind `vitrine_app::ports::shipping::Shipping`.
//!
//! - [`melhor_envio::MelhorEnvio`] (`melhorenvio`): quotes across Correios and private carriers,
//!   label purchase (cart → checkout → generate → print) and tracking through Melhor Envio's API
//!   v2.
//! - [`settings`]: the carrier settings, read by one function for both shapes, and the adapter
//!   they choose.
//!
//! The adapter is held to Melhor Envio's published API by a fake in `vitrine-testkit`
//! (`fakes::melhor_envio`) that validates every request (contract tests in `tests/`). What the
//! adapter relies on, and where it was read, is in `NOTES.md` beside this crate.
//!
//! Money never passes through a float on the way in: prices are read from their decimal text into
//! centavos, exactly.

pub mod melhor_envio;
pub mod settings;
