//! Gives `libyolo_ffi.so` a SONAME that carries its ABI version: `libyolo_ffi.so.MAJOR`, or for 0.x releases,
//! whose minor versions may change the ABI, `libyolo_ffi.so.0.MINOR`. A program linked against one ABI then
//! refuses to start with a library of another, instead of misbehaving.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets the version");
    let abi = if major == "0" { format!("0.{minor}") } else { major };
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libyolo_ffi.so.{abi}");
}
