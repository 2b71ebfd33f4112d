"""claimwatch: Content ID claims and cross-platform performance monitor."""
