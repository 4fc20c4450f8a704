"""The web console for partners, councils and safeguarding staff, and the public results pages."""
