"""The Infor CloudSuite (M3) sandbox: ION API Gateway OAuth2 and the M3 REST API v2."""
