"""What every format shares: atomic files, safe image decoding, name matching, answer codecs."""
