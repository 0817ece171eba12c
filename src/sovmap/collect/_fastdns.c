/*
 * Optional accelerator for the DNS engine (sovmap.collect.engine).
 *
 * send_batch / recv_batch move many datagrams per system call (sendmmsg / recvmmsg);
 * send_queries / recv_answers do the same for a round of the engine's queries and also keep
 * its books (pending IDs, generations), so a matched answer reaches Python already parsed;
 * parse decodes a response exactly as sovmap.collect.wire.parse_response does, for the
 * common record types, and returns None for anything it leaves to the Python parser
 * (unusual record types, IPv4-embedded IPv6 text forms). The tests check
 * both parsers give the same result or the same error code for arbitrary byte strings.
 *
 * The module is optional: when it cannot be built or imported, the engine runs the same
 * logic in Python.
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <structmember.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#define MAX_POINTERS 32
#define MAX_NAME 255
#define MAX_NAME_TEXT (4 * MAX_NAME) /* every octet written as \DDD at worst */
#define MAX_RECORDS 1024
#define BATCH 64
#define RECV_SIZE 65536

static PyObject *wire_error = NULL; /* sovmap.collect.wire.WireError */
static PyTypeObject *query_type = NULL; /* sovmap.collect.engine.Query (slots) */
static Py_ssize_t off_q_body, off_q_wire, off_q_gen, off_q_resolver;
static PyTypeObject *rr_type = NULL; /* sovmap.model.RR (slots dataclass) */
static Py_ssize_t off_name, off_rtype, off_ttl, off_data;
static PyTypeObject *obs_type = NULL; /* sovmap.model.Observation (slots dataclass) */
static Py_ssize_t off_obs[6]; /* probe, qname, qtype, status, answers, via */
static PyObject *type_names[64]; /* interned names of the types parsed here */
static char *recv_area = NULL;

/* A sentinel result of the name reader: leave the message to the Python parser. */
#define FALLBACK 2

static int
raise_wire(const char *code, const char *detail)
{
    PyObject *exc = PyObject_CallFunction(wire_error, "ss", code, detail);
    if (exc != NULL) {
        PyErr_SetObject(wire_error, exc);
        Py_DECREF(exc);
    }
    return -1;
}

/* Read a possibly compressed name at *pos into out in presentation format, as
 * sovmap.collect.wire.label_text writes it: lower case, labels joined by dots, no trailing
 * dot, a dot or backslash inside a label escaped with a backslash, octets outside printable
 * ASCII as \DDD (RFC 1035 section 5.1). out needs MAX_NAME_TEXT + 1 bytes.
 * Returns 0 and sets *next, or -1 with WireError set.
 * With out == NULL the name is only checked and its end found. */
static int
read_name(const unsigned char *msg, Py_ssize_t limit, Py_ssize_t offset, char *out,
          Py_ssize_t *outlen, Py_ssize_t *next)
{
    Py_ssize_t pos = offset, end = -1, lowest = offset, length = 0, o = 0;
    int jumps = 0;
    for (;;) {
        if (pos >= limit)
            return raise_wire("short", "name runs past the end");
        unsigned n = msg[pos];
        if (n == 0) {
            pos += 1;
            break;
        }
        unsigned kind = n & 0xC0;
        if (kind == 0xC0) {
            if (pos + 1 >= limit)
                return raise_wire("short", "pointer runs past the end");
            Py_ssize_t target = ((Py_ssize_t)(n & 0x3F) << 8) | msg[pos + 1];
            if (target >= lowest)
                return raise_wire("bad-pointer", "pointer does not point backwards");
            jumps += 1;
            if (jumps > MAX_POINTERS)
                return raise_wire("bad-pointer", "too many compression pointers");
            if (end < 0)
                end = pos + 2;
            lowest = target;
            pos = target;
            continue;
        }
        if (kind != 0)
            return raise_wire("label-type", "unsupported label type");
        pos += 1;
        if (pos + (Py_ssize_t)n > limit)
            return raise_wire("short", "label runs past the end");
        length += n + 1;
        if (length + 1 > MAX_NAME)
            return raise_wire("name-too-long", "name longer than 255 octets");
        if (out == NULL) {
            pos += n;
            continue;
        }
        if (o > 0)
            out[o++] = '.';
        for (unsigned i = 0; i < n; i++) {
            unsigned char c = msg[pos + i];
            if (c == '.' || c == '\\') {
                out[o++] = '\\';
                out[o++] = (char)c;
            } else if (c < 0x21 || c > 0x7E) {
                out[o++] = '\\';
                out[o++] = (char)('0' + c / 100);
                out[o++] = (char)('0' + c / 10 % 10);
                out[o++] = (char)('0' + c % 10);
            } else {
                out[o++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : (char)c;
            }
        }
        pos += n;
    }
    if (outlen != NULL)
        *outlen = o;
    *next = end >= 0 ? end : pos;
    return 0;
}

static PyObject *
make_rr(PyObject *name, PyObject *rtype, unsigned long ttl, PyObject *data)
{
    PyObject *rr = rr_type->tp_alloc(rr_type, 0);
    if (rr == NULL)
        return NULL;
    PyObject *pttl = PyLong_FromUnsignedLong(ttl > 0x7FFFFFFFUL ? 0x7FFFFFFFUL : ttl);
    if (pttl == NULL) {
        Py_DECREF(rr);
        return NULL;
    }
    Py_INCREF(name);
    Py_INCREF(rtype);
    Py_INCREF(data);
    *(PyObject **)((char *)rr + off_name) = name;
    *(PyObject **)((char *)rr + off_rtype) = rtype;
    *(PyObject **)((char *)rr + off_ttl) = pttl;
    *(PyObject **)((char *)rr + off_data) = data;
    return rr;
}

static PyObject *
name_object(const unsigned char *msg, Py_ssize_t limit, Py_ssize_t pos, Py_ssize_t *next,
            int *fallback)
{
    char buf[MAX_NAME_TEXT + 2];
    Py_ssize_t len;
    int r = read_name(msg, limit, pos, buf, &len, next);
    if (r < 0)
        return NULL;
    if (r == FALLBACK) {
        *fallback = 1;
        return NULL;
    }
    return PyUnicode_FromStringAndSize(buf, len);
}

/* rdata as text; NULL with *fallback set when the Python parser must decide. */
static PyObject *
rdata(const unsigned char *msg, Py_ssize_t limit, unsigned rtype, Py_ssize_t pos,
      Py_ssize_t rdlen, int *fallback)
{
    Py_ssize_t end = pos + rdlen, next;
    char buf[MAX_NAME_TEXT + 64];
    Py_ssize_t len;
    int r;
    switch (rtype) {
    case 1:
        if (rdlen != 4) {
            raise_wire("bad-rdata", "A record is not 4 octets");
            return NULL;
        }
        return PyUnicode_FromFormat("%u.%u.%u.%u", msg[pos], msg[pos + 1], msg[pos + 2],
                                    msg[pos + 3]);
    case 2:
    case 5:
    case 12:
    case 39: {
        PyObject *name = name_object(msg, limit, pos, &next, fallback);
        if (name == NULL)
            return NULL;
        if (next != end) {
            Py_DECREF(name);
            raise_wire("bad-rdata", "name does not fill its record");
            return NULL;
        }
        return name;
    }
    case 15: {
        if (rdlen < 3) {
            raise_wire("bad-rdata", "MX record too short");
            return NULL;
        }
        unsigned pref = ((unsigned)msg[pos] << 8) | msg[pos + 1];
        int n = snprintf(buf, sizeof buf, "%u ", pref);
        r = read_name(msg, limit, pos + 2, buf + n, &len, &next);
        if (r < 0)
            return NULL;
        if (r == FALLBACK) {
            *fallback = 1;
            return NULL;
        }
        if (next != end) {
            raise_wire("bad-rdata", "MX name does not fill its record");
            return NULL;
        }
        return PyUnicode_FromStringAndSize(buf, n + len);
    }
    case 16: {
        if (rdlen == 0) {
            raise_wire("bad-rdata", "empty TXT record");
            return NULL;
        }
        /* validate first, and see whether every octet is ASCII */
        int ascii = 1;
        Py_ssize_t p = pos, total = 0;
        while (p < end) {
            unsigned n = msg[p];
            p += 1;
            if (p + (Py_ssize_t)n > end) {
                raise_wire("rdata-overrun", "TXT string runs past its record");
                return NULL;
            }
            for (unsigned i = 0; i < n && ascii; i++)
                if (msg[p + i] >= 0x80)
                    ascii = 0;
            total += n;
            p += n;
        }
        if (ascii) {
            PyObject *s = PyUnicode_New(total, 127);
            if (s == NULL)
                return NULL;
            char *dst = (char *)PyUnicode_DATA(s);
            p = pos;
            while (p < end) {
                unsigned n = msg[p];
                memcpy(dst, msg + p + 1, n);
                dst += n;
                p += 1 + n;
            }
            return s;
        }
        /* each character-string decoded on its own, as the Python parser does */
        PyObject *parts = PyList_New(0);
        if (parts == NULL)
            return NULL;
        p = pos;
        while (p < end) {
            unsigned n = msg[p];
            PyObject *part = PyUnicode_DecodeUTF8((const char *)msg + p + 1, n,
                                                  "backslashreplace");
            if (part == NULL || PyList_Append(parts, part) < 0) {
                Py_XDECREF(part);
                Py_DECREF(parts);
                return NULL;
            }
            Py_DECREF(part);
            p += 1 + n;
        }
        PyObject *empty = PyUnicode_FromStringAndSize("", 0);
        PyObject *joined = empty ? PyUnicode_Join(empty, parts) : NULL;
        Py_XDECREF(empty);
        Py_DECREF(parts);
        return joined;
    }
    case 28: {
        if (rdlen != 16) {
            raise_wire("bad-rdata", "AAAA record is not 16 octets");
            return NULL;
        }
        if (inet_ntop(AF_INET6, msg + pos, buf, sizeof buf) == NULL || strchr(buf, '.')) {
            *fallback = 1; /* IPv4-embedded forms print differently in Python */
            return NULL;
        }
        return PyUnicode_FromString(buf);
    }
    case 33: {
        if (rdlen < 7) {
            raise_wire("bad-rdata", "SRV record too short");
            return NULL;
        }
        unsigned prio = ((unsigned)msg[pos] << 8) | msg[pos + 1];
        unsigned weight = ((unsigned)msg[pos + 2] << 8) | msg[pos + 3];
        unsigned port = ((unsigned)msg[pos + 4] << 8) | msg[pos + 5];
        int n = snprintf(buf, sizeof buf, "%u %u %u ", prio, weight, port);
        r = read_name(msg, limit, pos + 6, buf + n, &len, &next);
        if (r < 0)
            return NULL;
        if (r == FALLBACK) {
            *fallback = 1;
            return NULL;
        }
        if (next != end) {
            raise_wire("bad-rdata", "SRV name does not fill its record");
            return NULL;
        }
        return PyUnicode_FromStringAndSize(buf, n + len);
    }
    default:
        *fallback = 1; /* SOA and rarer types: the Python parser */
        return NULL;
    }
}

/* The parsed parts of a response. */
typedef struct {
    unsigned qid, flags, qtype;
    Py_ssize_t qend;   /* end of the question section (after type and class) */
    PyObject *answers; /* new reference: tuple of RR */
} parsed_t;

/* Parse a response: 0 with *out filled, -1 with WireError (or another error) set, or
 * FALLBACK (no error set) when the Python parser must decide. */
static int
parse_core(const unsigned char *msg, Py_ssize_t limit, parsed_t *out)
{
    if (limit < 12) {
        raise_wire("short", "message shorter than its header");
        return -1;
    }
    unsigned qid = ((unsigned)msg[0] << 8) | msg[1];
    unsigned flags = ((unsigned)msg[2] << 8) | msg[3];
    unsigned qd = ((unsigned)msg[4] << 8) | msg[5];
    unsigned an = ((unsigned)msg[6] << 8) | msg[7];
    unsigned ns = ((unsigned)msg[8] << 8) | msg[9];
    unsigned ar = ((unsigned)msg[10] << 8) | msg[11];
    if (!(flags & 0x8000)) {
        raise_wire("not-response", "QR bit not set");
        return -1;
    }
    if (qd != 1) {
        raise_wire("bad-question", "not one question");
        return -1;
    }
    if (an + ns + ar > MAX_RECORDS) {
        raise_wire("too-many-records", "too many records");
        return -1;
    }
    /* question name: uncompressed in every query we send */
    Py_ssize_t pos = 12;
    for (;;) {
        if (pos >= limit) {
            raise_wire("short", "name runs past the end");
            return -1;
        }
        unsigned n = msg[pos];
        if (n == 0) {
            if (pos - 12 + 1 > MAX_NAME) {
                raise_wire("name-too-long", "name longer than 255 octets");
                return -1;
            }
            pos += 1;
            break;
        }
        if (n & 0xC0) {
            if (read_name(msg, limit, 12, NULL, NULL, &pos) < 0)
                return -1;
            break;
        }
        pos += n + 1;
    }
    if (pos + 4 > limit) {
        raise_wire("short", "question runs past the end");
        return -1;
    }
    unsigned qtype = ((unsigned)msg[pos] << 8) | msg[pos + 1];
    pos += 4;
    Py_ssize_t qend = pos;
    PyObject *answers = PyTuple_New(an);
    if (answers == NULL)
        return -1;
    Py_ssize_t kept = 0;
    PyObject *last_name = NULL;
    Py_ssize_t last_target = -1;
    int fallback = 0;
    for (unsigned i = 0; i < an; i++) {
        PyObject *name;
        Py_ssize_t target = -1;
        if (pos + 1 < limit && msg[pos] >= 0xC0)
            target = ((Py_ssize_t)(msg[pos] & 0x3F) << 8) | msg[pos + 1];
        if (target >= 0 && target == last_target && target < pos && last_name != NULL) {
            name = last_name;
            Py_INCREF(name);
            pos += 2;
        }
        else {
            Py_ssize_t next;
            name = name_object(msg, limit, pos, &next, &fallback);
            if (name == NULL)
                goto fail;
            pos = next;
            if (target >= 0) {
                Py_XDECREF(last_name);
                last_name = name;
                Py_INCREF(last_name);
                last_target = target;
            }
        }
        if (pos + 10 > limit) {
            Py_DECREF(name);
            raise_wire("short", "record header runs past the end");
            goto fail;
        }
        unsigned rtype = ((unsigned)msg[pos] << 8) | msg[pos + 1];
        unsigned rclass = ((unsigned)msg[pos + 2] << 8) | msg[pos + 3];
        unsigned long ttl = ((unsigned long)msg[pos + 4] << 24) |
                            ((unsigned long)msg[pos + 5] << 16) |
                            ((unsigned long)msg[pos + 6] << 8) | msg[pos + 7];
        Py_ssize_t rdlen = ((Py_ssize_t)msg[pos + 8] << 8) | msg[pos + 9];
        pos += 10;
        if (pos + rdlen > limit) {
            Py_DECREF(name);
            raise_wire("rdata-overrun", "record data runs past the end");
            goto fail;
        }
        if (rtype == 41) {
            Py_DECREF(name);
            raise_wire("bad-rdata", "OPT record in the answer section");
            goto fail;
        }
        if (rclass != 1) {
            Py_DECREF(name);
            pos += rdlen;
            continue;
        }
        PyObject *tname = rtype < 64 ? type_names[rtype] : NULL;
        if (tname == NULL) {
            Py_DECREF(name);
            fallback = 1;
            goto fail;
        }
        PyObject *data = rdata(msg, limit, rtype, pos, rdlen, &fallback);
        if (data == NULL) {
            Py_DECREF(name);
            goto fail;
        }
        pos += rdlen;
        PyObject *rr = make_rr(name, tname, ttl, data);
        Py_DECREF(name);
        Py_DECREF(data);
        if (rr == NULL)
            goto fail;
        PyTuple_SET_ITEM(answers, kept, rr);
        kept++;
    }
    Py_XDECREF(last_name);
    if (kept < (Py_ssize_t)an && _PyTuple_Resize(&answers, kept) < 0)
        return -1;
    out->qid = qid;
    out->flags = flags;
    out->qtype = qtype;
    out->qend = qend;
    out->answers = answers;
    return 0;
fail:
    Py_XDECREF(last_name);
    Py_DECREF(answers);
    if (fallback) {
        PyErr_Clear();
        return FALLBACK;
    }
    return -1;
}

/* The question section as the Python parser reports it: the name lower-cased (ASCII),
 * type and class as sent. */
static PyObject *
question_object(const unsigned char *msg, Py_ssize_t qend)
{
    PyObject *question = PyBytes_FromStringAndSize((const char *)msg + 12, qend - 12);
    if (question == NULL)
        return NULL;
    char *q = PyBytes_AS_STRING(question);
    for (Py_ssize_t i = 0; i < qend - 12 - 4; i++)
        if (q[i] >= 'A' && q[i] <= 'Z')
            q[i] = (char)(q[i] + 32);
    return question;
}

static PyObject *
fast_parse(PyObject *self, PyObject *arg)
{
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "parse() takes bytes");
        return NULL;
    }
    const unsigned char *msg = (const unsigned char *)PyBytes_AS_STRING(arg);
    parsed_t p;
    int rc = parse_core(msg, PyBytes_GET_SIZE(arg), &p);
    if (rc == FALLBACK)
        Py_RETURN_NONE;
    if (rc < 0)
        return NULL;
    PyObject *question = question_object(msg, p.qend);
    if (question == NULL) {
        Py_DECREF(p.answers);
        return NULL;
    }
    return Py_BuildValue("(IININ)", p.qid, p.flags, question, p.qtype, p.answers);
}

/* Receive up to max (1..BATCH) datagrams into the shared area: msgs[i].msg_len gives each
 * one's length, datagram i starts at recv_area + i * RECV_SIZE. Returns how many (0 when
 * none is waiting), or -1 with an exception set. Non-blocking, and the area is shared: the
 * GIL stays held. */
static int
receive_datagrams(int fd, int max, struct mmsghdr *msgs, struct iovec *iov)
{
    if (recv_area == NULL) {
        recv_area = PyMem_RawMalloc((size_t)BATCH * RECV_SIZE);
        if (recv_area == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)max);
    for (int i = 0; i < max; i++) {
        iov[i].iov_base = recv_area + (size_t)i * RECV_SIZE;
        iov[i].iov_len = RECV_SIZE;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    for (;;) {
        int got = recvmmsg(fd, msgs, (unsigned)max, MSG_DONTWAIT, NULL);
        if (got >= 0)
            return got;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == ECONNREFUSED || errno == EINTR)
            continue; /* an ICMP error for one of our datagrams: the timeout handles it */
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
}

static PyObject *
fast_recv_batch(PyObject *self, PyObject *args)
{
    int fd, max = BATCH;
    if (!PyArg_ParseTuple(args, "i|i", &fd, &max))
        return NULL;
    if (max < 1 || max > BATCH)
        max = BATCH;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    int got = receive_datagrams(fd, max, msgs, iov);
    if (got < 0)
        return NULL;
    PyObject *out = PyList_New(got);
    if (out == NULL)
        return NULL;
    for (int i = 0; i < got; i++) {
        PyObject *b = PyBytes_FromStringAndSize(recv_area + (size_t)i * RECV_SIZE,
                                                (Py_ssize_t)msgs[i].msg_len);
        if (b == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, b);
    }
    return out;
}

static PyObject *
fast_send_batch(PyObject *self, PyObject *args)
{
    int fd;
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "iO!", &fd, &PyList_Type, &seq))
        return NULL;
    Py_ssize_t total = PyList_GET_SIZE(seq), done = 0;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    while (done < total) {
        int n = (int)((total - done) < BATCH ? (total - done) : BATCH);
        memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
        for (int i = 0; i < n; i++) {
            PyObject *b = PyList_GET_ITEM(seq, done + i);
            if (!PyBytes_Check(b)) {
                PyErr_SetString(PyExc_TypeError, "send_batch() takes a list of bytes");
                return NULL;
            }
            iov[i].iov_base = PyBytes_AS_STRING(b);
            iov[i].iov_len = (size_t)PyBytes_GET_SIZE(b);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int sent = sendmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (done > 0)
                break;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        done += sent;
        if (sent < n)
            break;
    }
    return PyLong_FromSsize_t(done);
}

static Py_ssize_t
member_offset(PyObject *cls, const char *field)
{
    PyObject *d = PyObject_GetAttrString(cls, field);
    if (d == NULL)
        return -1;
    if (!PyObject_TypeCheck(d, &PyMemberDescr_Type)) {
        Py_DECREF(d);
        PyErr_Format(PyExc_TypeError, "%s is not a slot", field);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    Py_ssize_t off = m->type == T_OBJECT_EX ? m->offset : -1;
    Py_DECREF(d);
    if (off < 0)
        PyErr_Format(PyExc_TypeError, "%s is not an object slot", field);
    return off;
}

static PyObject *
fast_init(PyObject *self, PyObject *args)
{
    PyObject *err, *rr, *names;
    if (!PyArg_ParseTuple(args, "OO!O!", &err, &PyType_Type, &rr, &PyDict_Type, &names))
        return NULL;
    off_name = member_offset(rr, "name");
    off_rtype = off_name < 0 ? -1 : member_offset(rr, "rtype");
    off_ttl = off_rtype < 0 ? -1 : member_offset(rr, "ttl");
    off_data = off_ttl < 0 ? -1 : member_offset(rr, "data");
    if (off_data < 0)
        return NULL;
    Py_XSETREF(wire_error, Py_NewRef(err));
    Py_XSETREF(rr_type, (PyTypeObject *)Py_NewRef(rr));
    static const unsigned handled[] = {1, 2, 5, 12, 15, 16, 28, 33, 39};
    for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) {
        PyObject *key = PyLong_FromUnsignedLong(handled[i]);
        PyObject *v = key ? PyDict_GetItemWithError(names, key) : NULL;
        Py_XDECREF(key);
        if (v == NULL) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_KeyError, "no name for type %u", handled[i]);
            return NULL;
        }
        Py_INCREF(v);
        PyUnicode_InternInPlace(&v);
        Py_XSETREF(type_names[handled[i]], v);
    }
    Py_RETURN_NONE;
}

/* A slot of a Query (borrowed; NULL when unset). */
#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

static int
set_slot(PyObject *obj, Py_ssize_t off, PyObject *value /* stolen */)
{
    if (value == NULL)
        return -1;
    Py_XSETREF(SLOT(obj, off), value);
    return 0;
}

/* deadline_gen += 1; returns the new value (new reference) or NULL. */
static PyObject *
bump_gen(PyObject *q)
{
    PyObject *gen = SLOT(q, off_q_gen);
    long v = gen == NULL ? 0 : PyLong_AsLong(gen);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    PyObject *next = PyLong_FromLong(v + 1);
    if (next == NULL)
        return NULL;
    Py_INCREF(next);
    if (set_slot(q, off_q_gen, next) < 0) {
        Py_DECREF(next);
        return NULL;
    }
    return next;
}

static PyObject *
fast_bind_query(PyObject *self, PyObject *cls)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "bind_query() takes the Query class");
        return NULL;
    }
    off_q_body = member_offset(cls, "body");
    off_q_wire = off_q_body < 0 ? -1 : member_offset(cls, "wire");
    off_q_gen = off_q_wire < 0 ? -1 : member_offset(cls, "deadline_gen");
    off_q_resolver = off_q_gen < 0 ? -1 : member_offset(cls, "resolver");
    if (off_q_resolver < 0)
        return NULL;
    Py_XSETREF(query_type, (PyTypeObject *)Py_NewRef(cls));
    Py_RETURN_NONE;
}

static PyObject *
fast_bind_observation(PyObject *self, PyObject *cls)
{
    static const char *fields[6] = {"probe", "qname", "qtype", "status", "answers", "via"};
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "bind_observation() takes the Observation class");
        return NULL;
    }
    for (int i = 0; i < 6; i++) {
        off_obs[i] = member_offset(cls, fields[i]);
        if (off_obs[i] < 0)
            return NULL;
    }
    Py_XSETREF(obs_type, (PyTypeObject *)Py_NewRef(cls));
    Py_RETURN_NONE;
}

/* observation(probe, qname, qtype, status, answers, via) -> Observation, its six slots set
 * as given (the frozen dataclass's __init__ does no more than that; the types are the
 * caller's, as there). */
static PyObject *
fast_observation(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (obs_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bind_observation() was not called");
        return NULL;
    }
    if (nargs != 6) {
        PyErr_Format(PyExc_TypeError, "observation() takes 6 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *o = obs_type->tp_alloc(obs_type, 0);
    if (o == NULL)
        return NULL;
    for (int i = 0; i < 6; i++)
        SLOT(o, off_obs[i]) = Py_NewRef(args[i]);
    return o;
}

/* send_queries(fd, ids, queries, pending, resolver, arcount) -> [(qid, query, gen), ...]
 *
 * One round of first attempts on one connected socket: the header (ID, RD, one question,
 * arcount) and the query's prepared body go out with sendmmsg; each query sent is entered
 * in ``pending`` under its ID, its ``resolver`` set and its ``deadline_gen`` bumped. Returns
 * the sent ones in order (fewer than given when the socket buffer filled); raises OSError
 * when nothing could be sent. */
static PyObject *
fast_send_queries(PyObject *self, PyObject *args)
{
    int fd, arcount;
    PyObject *ids, *queries, *pending, *resolver;
    if (!PyArg_ParseTuple(args, "iO!O!O!Oi", &fd, &PyList_Type, &ids, &PyList_Type, &queries,
                          &PyDict_Type, &pending, &resolver, &arcount))
        return NULL;
    if (query_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bind_query() was not called");
        return NULL;
    }
    Py_ssize_t total = PyList_GET_SIZE(queries);
    if (PyList_GET_SIZE(ids) != total) {
        PyErr_SetString(PyExc_ValueError, "ids and queries differ in length");
        return NULL;
    }
    PyObject *entries = PyList_New(0);
    if (entries == NULL)
        return NULL;
    unsigned char hdr[BATCH][12];
    struct iovec iov[BATCH][2];
    struct mmsghdr msgs[BATCH];
    Py_ssize_t done = 0;
    while (done < total) {
        int n = (int)((total - done) < BATCH ? (total - done) : BATCH);
        memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)n);
        for (int i = 0; i < n; i++) {
            PyObject *q = PyList_GET_ITEM(queries, done + i);
            if (!PyObject_TypeCheck(q, query_type)) {
                PyErr_SetString(PyExc_TypeError, "send_queries() takes Query objects");
                goto fail;
            }
            PyObject *body = SLOT(q, off_q_body);
            if (body == NULL || !PyBytes_Check(body) || PyBytes_GET_SIZE(body) == 0) {
                PyErr_SetString(PyExc_ValueError, "a query without its prepared body");
                goto fail;
            }
            long qid = PyLong_AsLong(PyList_GET_ITEM(ids, done + i));
            if (qid < 0 || qid > 0xFFFF) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "message ID out of range");
                goto fail;
            }
            unsigned char *h = hdr[i];
            h[0] = (unsigned char)(qid >> 8);
            h[1] = (unsigned char)(qid & 0xFF);
            h[2] = 0x01; /* RD */
            h[3] = 0x00;
            h[4] = 0;
            h[5] = 1; /* one question */
            h[6] = h[7] = h[8] = h[9] = 0;
            h[10] = (unsigned char)((arcount >> 8) & 0xFF);
            h[11] = (unsigned char)(arcount & 0xFF);
            iov[i][0].iov_base = h;
            iov[i][0].iov_len = 12;
            iov[i][1].iov_base = PyBytes_AS_STRING(body);
            iov[i][1].iov_len = (size_t)PyBytes_GET_SIZE(body);
            msgs[i].msg_hdr.msg_iov = iov[i];
            msgs[i].msg_hdr.msg_iovlen = 2;
        }
        int sent = sendmmsg(fd, msgs, (unsigned)n, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            if (done > 0)
                break;
            PyErr_SetFromErrno(PyExc_OSError);
            goto fail;
        }
        for (int i = 0; i < sent; i++) {
            PyObject *q = PyList_GET_ITEM(queries, done + i);
            PyObject *qid = PyList_GET_ITEM(ids, done + i);
            PyObject *gen = bump_gen(q);
            if (gen == NULL)
                goto fail;
            Py_INCREF(resolver);
            if (set_slot(q, off_q_resolver, resolver) < 0 || PyDict_SetItem(pending, qid, q) < 0) {
                Py_DECREF(gen);
                goto fail;
            }
            PyObject *entry = PyTuple_Pack(3, qid, q, gen);
            Py_DECREF(gen);
            if (entry == NULL || PyList_Append(entries, entry) < 0) {
                Py_XDECREF(entry);
                goto fail;
            }
            Py_DECREF(entry);
        }
        done += sent;
        if (sent < n)
            break;
    }
    return entries;
fail:
    Py_DECREF(entries);
    return NULL;
}

/* Does the question of a response (msg[12:qend]) ask what ``q`` asked? Names compare
 * without regard to ASCII case, type and class exactly. */
static int
asks_the_same(const unsigned char *msg, Py_ssize_t qend, PyObject *q)
{
    PyObject *wire = SLOT(q, off_q_wire), *body = SLOT(q, off_q_body);
    if (wire == NULL || body == NULL || !PyBytes_Check(wire) || !PyBytes_Check(body))
        return 0;
    Py_ssize_t wl = PyBytes_GET_SIZE(wire);
    if (qend - 12 != wl + 4 || PyBytes_GET_SIZE(body) < wl + 4)
        return 0;
    const unsigned char *w = (const unsigned char *)PyBytes_AS_STRING(wire);
    const unsigned char *m = msg + 12;
    for (Py_ssize_t i = 0; i < wl; i++) {
        unsigned char a = m[i], b = w[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a + 32);
        if (b >= 'A' && b <= 'Z')
            b = (unsigned char)(b + 32);
        if (a != b)
            return 0;
    }
    return memcmp(m + wl, PyBytes_AS_STRING(body) + wl, 4) == 0;
}

/* recv_answers(fd, pending, release, max=64)
 *     -> (items, received, released, mismatched, short)
 *
 * Reads up to ``max`` datagrams and matches each by ID (``pending``) and echoed question.
 * A matched answer the C parser decides is released here (removed from ``pending``, its ID
 * handed to ``release``, its ``deadline_gen`` bumped) and given as (query, flags, answers);
 * a datagram that needs the Python parser or is malformed is given as its bytes, untouched,
 * for the Python path; the rest are counted. */
static PyObject *
fast_recv_answers(PyObject *self, PyObject *args)
{
    int fd, max = BATCH;
    PyObject *pending, *release;
    if (!PyArg_ParseTuple(args, "iO!O|i", &fd, &PyDict_Type, &pending, &release, &max))
        return NULL;
    if (query_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "bind_query() was not called");
        return NULL;
    }
    if (max < 1 || max > BATCH)
        max = BATCH;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    int got = receive_datagrams(fd, max, msgs, iov);
    if (got < 0)
        return NULL;
    PyObject *items = PyList_New(0);
    if (items == NULL)
        return NULL;
    int released = 0, mismatched = 0, shorts = 0;
    for (int i = 0; i < got; i++) {
        const unsigned char *msg = (const unsigned char *)recv_area + (size_t)i * RECV_SIZE;
        Py_ssize_t len = (Py_ssize_t)msgs[i].msg_len;
        if (len < 12) {
            shorts++;
            continue;
        }
        PyObject *key = PyLong_FromLong(((long)msg[0] << 8) | msg[1]);
        if (key == NULL)
            goto fail;
        PyObject *q = PyDict_GetItemWithError(pending, key); /* borrowed */
        if (q == NULL) {
            Py_DECREF(key);
            if (PyErr_Occurred())
                goto fail;
            mismatched++;
            continue;
        }
        PyObject *item = NULL;
        parsed_t p;
        int rc = PyObject_TypeCheck(q, query_type) ? parse_core(msg, len, &p) : FALLBACK;
        if (rc != 0) {
            if (rc < 0) {
                if (!PyErr_ExceptionMatches(wire_error)) {
                    Py_DECREF(key);
                    goto fail;
                }
                PyErr_Clear();
            }
            /* the Python path parses it again and decides (malformed: retry) */
            Py_DECREF(key);
            item = PyBytes_FromStringAndSize((const char *)msg, len);
        }
        else if (!asks_the_same(msg, p.qend, q)) {
            Py_DECREF(key);
            Py_DECREF(p.answers);
            mismatched++;
            continue;
        }
        else {
            Py_INCREF(q); /* pending held it */
            PyObject *gen = NULL;
            if (PyDict_DelItem(pending, key) < 0 || (gen = bump_gen(q)) == NULL) {
                Py_DECREF(q);
                Py_DECREF(key);
                Py_DECREF(p.answers);
                goto fail;
            }
            Py_DECREF(gen);
            PyObject *r = PyObject_CallOneArg(release, key);
            Py_DECREF(key);
            if (r == NULL) {
                Py_DECREF(q);
                Py_DECREF(p.answers);
                goto fail;
            }
            Py_DECREF(r);
            released++;
            item = Py_BuildValue("(NIN)", q, p.flags, p.answers);
        }
        if (item == NULL || PyList_Append(items, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    return Py_BuildValue("(Niiii)", items, got, released, mismatched, shorts);
fail:
    Py_DECREF(items);
    return NULL;
}

/* shuffled_ids() -> the 65,536 message IDs in a random order (Fisher-Yates; the random
 * words come from the kernel's getrandom, the same source as os.urandom). */
static PyObject *
fast_shuffled_ids(PyObject *self, PyObject *noargs)
{
    enum { N = 65536 };
    uint32_t *rnd = PyMem_Malloc(N * sizeof(uint32_t));
    uint16_t *ids = PyMem_Malloc(N * sizeof(uint16_t));
    PyObject *out = NULL;
    if (rnd == NULL || ids == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t have = 0;
    while (have < N * sizeof(uint32_t)) {
        ssize_t got = getrandom((char *)rnd + have, N * sizeof(uint32_t) - have, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            PyErr_SetFromErrno(PyExc_OSError);
            goto done;
        }
        have += (size_t)got;
    }
    for (uint32_t i = 0; i < N; i++)
        ids[i] = (uint16_t)i;
    for (uint32_t i = N - 1; i > 0; i--) {
        /* j uniform in [0, i] up to a bias below 2^-16 (multiply-shift of a 32-bit word) */
        uint32_t j = (uint32_t)(((uint64_t)rnd[i] * (i + 1)) >> 32);
        uint16_t t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
    out = PyList_New(N);
    if (out == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < N; i++) {
        PyObject *v = PyLong_FromLong(ids[i]);
        if (v == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, v);
    }
done:
    PyMem_Free(rnd);
    PyMem_Free(ids);
    return out;
}

static PyMethodDef methods[] = {
    {"init", fast_init, METH_VARARGS, "init(WireError, RR, type_names): bind the Python types."},
    {"parse", fast_parse, METH_O,
     "parse(msg) -> (qid, flags, question, qtype, answers) or None (use Python)."},
    {"recv_batch", fast_recv_batch, METH_VARARGS,
     "recv_batch(fd, max=64) -> list of datagrams waiting on a non-blocking socket."},
    {"send_batch", fast_send_batch, METH_VARARGS,
     "send_batch(fd, datagrams) -> how many were sent (sendmmsg)."},
    {"bind_query", fast_bind_query, METH_O,
     "bind_query(Query): the slots send_queries and recv_answers use."},
    {"send_queries", fast_send_queries, METH_VARARGS,
     "send_queries(fd, ids, queries, pending, resolver, arcount) -> [(qid, query, gen)]."},
    {"recv_answers", fast_recv_answers, METH_VARARGS,
     "recv_answers(fd, pending, release, max=64) -> (items, received, released, "
     "mismatched, short)."},
    {"bind_observation", fast_bind_observation, METH_O,
     "bind_observation(Observation): the slots observation() sets."},
    {"observation", (PyCFunction)(void (*)(void))fast_observation, METH_FASTCALL,
     "observation(probe, qname, qtype, status, answers, via) -> Observation."},
    {"shuffled_ids", fast_shuffled_ids, METH_NOARGS,
     "shuffled_ids() -> the 65,536 DNS message IDs in a random order."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastdns", "sendmmsg/recvmmsg and a response parser in C.", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__fastdns(void)
{
    return PyModule_Create(&module);
}
