#pragma once
// What to change on a message, and how to answer the MTA: one list for both
// directions, made by the Session and only *applied* by the milter (libmilter)
// or by segelctl (a recording that renders the new message). rspamd's
// milter.c shape: the protocol layer applies a result built elsewhere.
#include "smime/sign.h"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace segel::engine {

/** The answer to the MTA at one step. */
struct Reply {
    enum class Kind {
        Continue,  ///< go on (to the next step, or deliver with the edits)
        Accept,    ///< deliver unchanged; nothing more to do for this message
        Reject,    ///< permanent refusal: code/xcode/text
        Tempfail,  ///< temporary refusal: code/xcode/text
    };
    Kind kind = Kind::Continue;
    std::string code;   ///< "550", "451", "552"
    std::string xcode;  ///< "5.7.1"
    std::string text;   ///< one line, what the sender reads

    static Reply go_on() { return {}; }
    static Reply accept() { return {Kind::Accept, {}, {}, {}}; }
    /** A refusal: Reject for 5xx codes, Tempfail for 4xx. */
    static Reply refuse(std::string code, std::string xcode, std::string text);
};

/** One header change. Values have no leading space and fold with "\n\t" (smime::Header's convention). */
struct HeaderEdit {
    enum class Op {
        Delete,  ///< the index-th field called name (1-based, among fields of that name as they stand now)
        Change,  ///< replace that field's value
        Insert,  ///< insert at position index of the whole header (0 = the top)
        Add,     ///< append at the end of the header
    };
    Op op = Op::Add;
    std::string name;
    int index = 0;
    std::string value;
};

/**
 * Produces a new body in pieces. Signing streams the body it makes straight
 * to whoever applies the edits (a 20 MB message is never held whole); the
 * pieces are final, but if the writer throws the receiver must discard them.
 */
using BodyWriter = std::function<void(const smime::BodySink&)>;

struct Edits {
    Reply reply;
    /** In the order they must be applied (deletions of one name highest index first). */
    std::vector<HeaderEdit> headers;
    /** The new body; empty when the body stays as it is. Runs once, inside apply(). */
    BodyWriter body;
    /** Hold the message in the MTA's quarantine with this reason. */
    std::optional<std::string> quarantine;

    [[nodiscard]] bool changes_message() const { return !headers.empty() || body || quarantine; }
};

/** Where edits go: libmilter (milter/) or a recording (tests, segelctl). */
class Actions {
public:
    virtual ~Actions() = default;
    virtual void delete_header(const std::string& name, int index) = 0;
    virtual void change_header(const std::string& name, int index, const std::string& value) = 0;
    virtual void insert_header(int index, const std::string& name, const std::string& value) = 0;
    virtual void add_header(const std::string& name, const std::string& value) = 0;
    /** One piece of the new body (called repeatedly, in order). */
    virtual void replace_body(std::string_view piece) = 0;
    virtual void quarantine(const std::string& reason) = 0;
};

/**
 * Applies @p edits to @p actions: header edits in order, then the body (the
 * writer runs now), then the quarantine. The reply is the caller's to give.
 * @throws whatever an action or the body writer throws (the caller defers)
 */
void apply(const Edits& edits, Actions& actions);

/**
 * Records what was applied, and renders the message it makes. Header indexes
 * follow the MTA's rules (Postfix cleanup): Delete/Change count the fields of
 * that name as they stand, Insert counts every field.
 */
class RecordingActions final : public Actions {
public:
    struct Field {
        std::string name;
        std::string value;  ///< after the colon, as written (leading space kept), "\n" folds
    };
    struct Recorded {
        std::string op;  ///< "delete", "change", "insert", "add", "body", "quarantine"
        std::string name;
        int index = 0;
        std::string value;
    };

    /** Starts from a message's head (fields as received) and body. */
    RecordingActions(std::vector<Field> head, std::string body);
    RecordingActions() = default;

    void delete_header(const std::string& name, int index) override;
    void change_header(const std::string& name, int index, const std::string& value) override;
    void insert_header(int index, const std::string& name, const std::string& value) override;
    void add_header(const std::string& name, const std::string& value) override;
    void replace_body(std::string_view piece) override;
    void quarantine(const std::string& reason) override;

    [[nodiscard]] const std::vector<Recorded>& recorded() const { return m_recorded; }
    [[nodiscard]] bool body_replaced() const { return m_body_replaced; }
    [[nodiscard]] const std::optional<std::string>& quarantined() const { return m_quarantine; }
    /** The message as the MTA would now send it (CRLF). */
    [[nodiscard]] std::string message() const;
    [[nodiscard]] const std::vector<Field>& head() const { return m_head; }

private:
    std::vector<Field>::iterator nth(const std::string& name, int index);

    std::vector<Field> m_head;
    std::string m_body;
    std::string m_new_body;
    bool m_body_replaced = false;
    std::optional<std::string> m_quarantine;
    std::vector<Recorded> m_recorded;
};

}  // namespace segel::engine
