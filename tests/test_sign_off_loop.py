"""Three-way sign-off: a return sends the sheet back to the chair, and approvals of the old version
no longer count."""


async def test_returned_decision_sheet_needs_all_three_on_the_new_version(driver):
    await driver.to_sign_off()
    await driver.act("sign_off", "la", version=1, decision="approve")
    await driver.act("sign_off", "icb", version=1, decision="approve")
    state = await driver.act("sign_off", "police", version=1, decision="return",
                             comments="The rationale must address the police investigation.")
    assert state["stage"] == "decision_sheet"
    v1 = {t.assignee_seat: (t.status, t.outcome) for t in driver.tasks(kind="sign_off")}
    assert v1 == {"la": ("done", "approve"), "icb": ("done", "approve"), "police": ("done", "return")}
    revise = driver.tasks(action="issue_decision_sheet", status="open")
    assert len(revise) == 1 and "police investigation" in revise[0].description

    state = await driver.act("issue_decision_sheet", "chair", circumstances="Revised with the police view.",
                             local_review_criteria_met=True, rationale="Revised rationale.")
    assert state["decision_sheet_version"] == 2 and state["stage"] == "executive_sign_off"
    open_v2 = sorted(t.assignee_seat for t in driver.tasks(kind="sign_off", status="open"))
    assert open_v2 == ["icb", "la", "police"], "every seat signs the new version"
    superseded = [(s["seat"], s["version"], s["superseded_by"]) for s in state["sign_offs"]]
    assert superseded == [("la", 1, 2), ("icb", 1, 2), ("police", 1, 2)], "v1's approvals show as superseded"
    v1 = {t.assignee_seat: t.outcome for t in driver.tasks(kind="sign_off") if ":sign_off:v1:" in t.key}
    assert v1 == {"la": "approve (superseded by version 2)", "icb": "approve (superseded by version 2)",
                  "police": "return (superseded by version 2)"}, "and on the approvers' tasks"
    assert "version 2" in (await driver.rejected("sign_off", "la", version=1, decision="approve"))

    await driver.act("sign_off", "la", version=2, decision="approve")
    state = await driver.act("sign_off", "icb", version=2, decision="approve")
    assert state["stage"] == "executive_sign_off", "two approvals of v2 are not enough"
    state = await driver.act("sign_off", "police", version=2, decision="approve")
    assert state["stage"] == "methodology", "the partners decided on a local CSPR: it starts now"
    sheets = sorted((d.kind, d.version) for d in await driver.documents() if d.kind.startswith("decision_sheet"))
    assert sheets == [("decision_sheet", 1), ("decision_sheet", 2), ("decision_sheet_signed", 2)]
    await driver.save_history("sign_off_returned_then_approved")
    assert [(s["seat"], s["version"], s["decision"], s["superseded_by"]) for s in state["sign_offs"]] == [
        ("la", 1, "approve", 2), ("icb", 1, "approve", 2), ("police", 1, "return", 2),
        ("la", 2, "approve", None), ("icb", 2, "approve", None), ("police", 2, "approve", None),
    ]
