//! Credentials: the Adobe IMS OAuth server-to-server token and the Zoho OAuth client.

pub mod ims;
pub mod zoho;
