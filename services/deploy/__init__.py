"""Deploy targets: deciding where `make up` goes and checking the tools each target needs."""
