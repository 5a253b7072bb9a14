"""The rapid review of a serious child safeguarding incident (Working Together 2023, ch. 5): from the referral to
the National Panel's reply and the learning after it (``RapidReviewWorkflow``, workflow.py)."""
