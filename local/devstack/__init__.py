"""The local offline stack behind ``make run``: API Gateway and SQS stand-ins around the real handlers.

Never shipped in the Lambda asset.
"""
