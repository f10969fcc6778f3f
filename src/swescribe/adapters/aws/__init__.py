"""AWS adapters (boto3): S3, DynamoDB, SQS, EC2. Every client honours AWS_ENDPOINT_URL."""
