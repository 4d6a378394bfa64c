"""The support bundle: one zip an operator can attach to a bug report (`GET /-/support`,
`collector support`). Everything in it is plain text and has its secrets redacted."""
