//! What `check` and `updatekeys` share to face a checkout written by someone else (a pull
//! request's author, who chooses every name, link, size and byte in it): a walk and file
//! access that never follow a symlink or open a FIFO ([`tree`]), the creation rules as they
//! reach that checkout ([`scope`]), and untrusted text made safe for CI logs ([`escape`]).

pub mod escape;
pub mod scope;
pub mod tree;
