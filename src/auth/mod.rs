//! Credentials: the Adobe IMS OAuth server-to-server token, the Zoho OAuth client and the
//! on-disk cache of Zoho access tokens.

pub mod ims;
pub mod token_cache;
pub mod zoho;
