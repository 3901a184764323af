//! `provision emulator`: a local, in-memory stand-in for IMS, Zoho Accounts/CRM and the Flow
//! Service, Catalog and Data Prep APIs (contract §5).

use crate::cli::EmulatorArgs;

/// Runs the emulator until Ctrl-C, printing the bound address as the first stdout line.
pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    let _ = args;
    anyhow::bail!("the emulator is not implemented yet")
}
