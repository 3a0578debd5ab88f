"""Domain synonym table for 并单: surface words (citizen, Sichuanese, operator and grid-worker wording) → concepts.

Each concept line is ``id|标签|kind|surface surface …`` (an indented line continues the surfaces). ``kind`` weighs
a shared concept:

- ``obj``: a thing that is itself the problem (油烟, 摊贩, 积水, 小广告…): the strongest evidence;
- ``fac``: a facility or place that is the problem only with an issue (井盖, 路灯, 电梯, 桥, 工地…): as strong,
  but two reports sharing only a facility and saying different things about it are not one problem;
- ``issue``: what is wrong with it (缺失, 不亮, 堵塞, 噪音…);
- ``sym``: a symptom or effect (黑黢黢, 臭, 烟…);
- ``ctx``: circumstance (夜间, 人行道, 老人…), weak evidence.

A surface may stand for several concepts (``黑灯瞎火=streetlight+not_lit+dark`` in :data:`COMPOUNDS`).
:data:`STOP_PHRASES` are dropped whole (``没人管`` is not ``缺失``); :data:`STOPWORDS` are the boilerplate of
each register (市民来电反映、网格员巡查发现、要求尽快处理、已设置锥桶…) and words that say nothing about the problem.
"""

from __future__ import annotations

CONCEPTS = """
manhole|井盖|fac|井盖 窨井盖 窨井 检查井盖 检查井 井盖子 井圈 雨水井盖 污水井盖 雨水篦子 雨水箅子 篦子 箅子
    下水道盖子 下水道盖 盖板 井口 井盖板 马葫芦盖
missing|缺失|issue|缺失 丢失 莫得 莫得了 没有了 不见了 被偷 被偷了 遭偷 丢了 没了 缺了 遗失 补装 无盖 被人偷 偷走
    整没了 缺一块 缺了一角 少了一块
broken|损坏|issue|坏 坏了 损坏 破损 故障 维修 修复 检修 修好 抢修 修理 烂了 破了 碎了 碎 断了 失灵 用不了 不能用
    报废 坏掉 毁坏 残缺 破烂 烂 坏起 整坏 遭撞坏 撞坏 撞歪 撞倒 被车撞 撞
loose|松动|issue|松动 松了 翘 翘起 翘起来 一踩就翘 晃动 摇晃 摇摇晃晃 不稳 哐当 哐当响 咚咚响 一踩就响 一压就响 下沉
    沉下去 往下沉 加固 晃 松脱 松
pothole|坑洼|obj|坑 大坑 坑洼 坑坑洼洼 凹坑 坑槽 烂路 路烂了 路面烂 修补 补坑 补路 坑洞 水凼凼 凼凼
collapse|塌陷|issue|塌陷 下陷 沉陷 陷下去 塌了 凹陷 塌 垮塌 垮了
crack|开裂|issue|开裂 裂缝 裂开 裂口 龟裂 鼓包 裂了 起包 裂
road|路面|ctx|路面 道路 马路 沥青 柏油 柏油路 水泥路 路段 车道 机动车道 非机动车道 路基
streetlight|路灯|fac|路灯 灯杆 路灯杆 照明灯 街灯 灯 盏灯 灯泡 照明 一盏灯 路灯坏了 照明设施 景观灯
not_lit|不亮|issue|不亮 没亮 没亮过 不亮了 无照明 没有照明 没照明 熄灭 灭了 亮不起来 时亮时不亮 闪烁 一闪一闪 闪
    不亮起 没开灯 不开灯 亮不了 全黑 一个都不亮
dark|黑暗|sym|黑黢黢 黑漆漆 黑咕隆咚 黑乎乎 黑麻麻 漆黑 一片漆黑 看不清 看不到路 看不见 太黑 好黑 黑得很
    伸手不见五指 摸黑 黑洞洞
traffic_light|信号灯|fac|红绿灯 信号灯 交通灯 交通信号灯 黄灯 红灯 绿灯 人行灯 倒计时 左转灯 闪黄灯
drain|下水道|fac|下水道 排水管 排水管道 排水沟 污水管 污水管道 污水井 雨水口 雨水沟 阴沟 管网 地漏 下水 水沟
    雨水管网 排水管网 雨水管
clogged|堵塞|issue|堵塞 堵了 堵死 不通 淤堵 淤塞 疏通 返水 倒灌 堵起 堵住
overflow|外溢|issue|外溢 漫 漫出来 冒出来 溢出 污水横流 冒臭水 溢 淌 流得到处都是
sewage|污水|sym|污水 脏水 臭水 黑水 废水 洗车水 渗滤液 发黑
flooding|积水|obj|积水 内涝 淹 淹了 水淹 被淹 涨水 水齐膝盖 蹚水 抽排 排涝 积满水 泡水 淹到 水深
water_supply|供水|fac|自来水 供水 水压 来水 二次供水 水龙头 水
outage|停供|issue|停供 断供 中断 恢复供 停了 没来 停起 恢复供水 恢复供气 恢复供电
water_quality|水质|issue|水质 水黄 发黄 黄黄的 黄的 是黄的 浑浊 浑 铁锈味 锈水 沉淀 水垢 水是黄的 黄水 浑水 有杂质
    水有味
water_pipe|水管|fac|水管 供水管 供水管道 自来水管 供水管 爆管 总阀 水表
leak|漏水|issue|漏水 渗水 滴水 跑水 冒水 哗哗 爆了 破裂 漏 渗 滴 泡了 浸水 往外冒 冒
power|电力|fac|供电 电压 跳闸 供电所 供电公司 电
power_line|电线|fac|电线 电缆 电力线 电力线路 线路 高压线 电线杆 电杆 变压器 电箱 配电箱 电力设施
comm_cable|通信线缆|fac|网线 光纤 光缆 通信线缆 弱电线 弱电线缆 电话线 宽带线 有线电视线 线缆 弱电 电信线
dangling|垂落|issue|垂落 下垂 掉下来 吊下来 耷拉 低垂 吊着 吊起 垂 吊在 垂下来 挂下来 碰到头 头都要碰到
messy|杂乱|issue|乱拉 乱糟糟 杂乱 缠 缠成一坨 乱挂 蜘蛛网 乱拉乱挂 一坨 乱七八糟 乱搭
gas|燃气|fac|燃气 天然气 煤气 供气 燃气公司 燃气费 燃气表
gas_pipe|燃气管|fac|燃气管 燃气管道 燃气立管 天然气管 煤气管 燃气管线
rust|锈蚀|issue|锈 锈蚀 生锈 锈得 起壳 腐蚀 锈穿
sidewalk|人行道|ctx|人行道 街沿 便道 步道 街沿边 人行通道 行人通道
tile|地砖|fac|地砖 砖 砖头 路砖 道板 花砖 人行道砖 铺装
blind_path|盲道|fac|盲道
bridge|桥|fac|天桥 人行天桥 人行桥 桥 桥梁 桥墩 立交 立交桥 桥面 下穿 隧道 桥洞 伸缩缝 涵洞 桥下
railing|栏杆|fac|栏杆 护栏 扶手 隔离栏 隔离护栏 隔离墩 围栏 隔离带栏杆 中央护栏
fitness|健身器材|fac|健身器材 运动器材 健身设施 单杠 双杠 转腰 漫步机 篮球架 乒乓球台 健身路径 器材
construction|施工|fac|施工 工地 在建 施工作业 施工方 施工队 建筑工地 拆迁工地 拆迁 工程
hoarding|围挡|obj|围挡 施工围挡 围墙挡板 挡板
dig|开挖|issue|开挖 挖路 反复开挖 挖了填 挖开 挖 填了挖 围起来挖 刨开
night|夜间|ctx|夜间 半夜 凌晨 晚上 深夜 夜里 通宵 一晚上 一通宵 夜晚 晚间 22时 23时 十点 夜
noise|噪音|issue|噪音 噪声 吵 吵死 吵死了 吵得 吵闹 轰鸣 声音 嗡嗡 嗡嗡嗡 咚咚 咚咚咚 刺耳 震天响 大声 睡不着 吵醒
    敲敲打打 叮叮咚咚 乒乒乓乓 响到 太吵 好吵 闹 声音大 音量 响 响一通宵 分贝
square_dance|广场舞|obj|广场舞 跳舞 坝坝舞 跳广场舞 舞
speaker|音响|obj|音响 喇叭 音箱 高音喇叭 音乐 放歌 唱歌 k歌 扩音器 循环放
machinery|施工机械|obj|打桩 打桩机 切割 电钻 机器 挖掘机 混凝土 浇混凝土 气泵 空压机 机械 电锯 冲击钻 搅拌机 钢筋
    打钻
vehicle_noise|车辆噪声|obj|炸街 改装车 改装摩托 摩托车 轰油门 飙车 排气管
aircon|空调外机|obj|空调外机 外机 风机 冷却塔 水泵 空调 排风扇 排风 排风设备 排风机 抽风机
lampblack|油烟|obj|油烟 排烟 烟道 排烟管道 油烟机 油烟净化 净化器 油烟直排 排烟管 抽油烟
smoke|烟|sym|烟 烟子 浓烟 黑烟 冒烟 烟雾 呛 烟熏火燎 熏 烟熏 呛人 黑烟子 烟大
bbq|烧烤|obj|烧烤 烧烤摊 烤串 夜宵 炭火 烧烤架 烤肉 撸串 露天烧烤
restaurant|餐馆|ctx|餐馆 饭店 餐饮店 火锅店 串串店 面馆 后厨 食堂 餐厅 小吃店 串串 餐饮 饭馆 苍蝇馆子
burning|焚烧|obj|焚烧 烧垃圾 烧树叶 烧纸 烧东西 燃烧 点火 烧纸钱 纸钱 烧秸秆 烧 烧火 烧香
garbage|垃圾|obj|垃圾 塑料瓶 塑料袋 生活垃圾 垃圾桶 垃圾箱 垃圾站 垃圾收集点 垃圾堆 垃圾房 果皮纸屑 烂纸 垃圾点
    垃圾池 中转站 压缩站 垃圾中转站 垃圾压缩站
not_collected|清运不及时|issue|满溢 满了 满都满了 堆满 溢出来 堆积 没人收 没人清运 清运不及时 没收 收垃圾 拉走
    装不下 堆成山
construction_waste|建筑垃圾|obj|建筑垃圾 装修垃圾 建渣 渣土 废料 碎砖 建筑废料 渣渣
dumping|乱倒|issue|倾倒 乱倒 偷倒 倒了一车 偷偷倒 乱扔 乱丢 倒垃圾 倒在
muck_truck|渣土车|obj|渣土车 泥头车 运输车 货车 大货车 土方车
spill|抛洒|issue|抛洒 滴漏 撒落 洒落 掉的泥巴 带泥 泥巴 泥泞 稀滑 泥浆 抛洒滴漏 满路泥 带泥上路
vendor|摊贩|obj|摊贩 流动摊贩 摆摊 摊点 小摊 摊摊 地摊 摆地摊 推车 卖菜 小贩 马路市场 占道经营 游商 流动摊点
    小摊小贩 卖水果 流动商贩 摊子 摊位
obstruct|占道|issue|占道 占用 占 占了 圈进去 圈占 围占 堵路 挡路 走不过 走不通 过不去 占用通道 走都走不过 开不过去
    占完了 堵塞通道 挡道 堵门 阻断
shop_outside|出店经营|obj|出店经营 越门经营 店外经营 摆到门口 货架 堆到门口 门口堆货 摆到人行道 摆到街沿
bike|共享单车|obj|共享单车 单车 电单车 自行车 哈啰 青桔 美团单车
ebike|电动车|obj|电瓶车 电动车 电动自行车 电瓶 电摩 电驴
parking|违停|issue|乱停 违停 违法停放 乱停乱放 无序停放 无序 停满 占道停车 僵尸车 停车 停放 停在 停起 堵车门
    违章停车 停了一个
vehicle|车辆|fac|车 汽车 私家车 机动车 面包车 车辆 小车 轿车 车子
fire_lane|消防通道|fac|消防通道 生命通道 消防车道 消防车 救护车通道 救护车 应急通道
charging|充电|issue|充电 充电器 充电桩 入户充电 充起 在充电
private_wire|私拉电线|obj|飞线 私拉电线 拉线 插线板 飞线充电 吊根线 私拉乱接 从窗口 窗口吊线 吊线
corridor|楼道|ctx|楼道 楼梯间 过道 一楼 单元 楼梯 门厅 通道
elevator|电梯|fac|电梯 直梯 轿厢 电梯维修
elevator_stop|停运|issue|停运 不动 关人 困人 停梯 停起不动 趴窝
roof|楼顶|fac|楼顶 屋顶 天花板 顶楼 防水层 屋面 房顶
facade|外墙|fac|外墙 墙皮 瓷砖 饰面砖 墙砖 外立面 墙面 外墙砖 墙 涂鸦墙
falling|脱落|issue|脱落 往下掉 坠落 砸 砸到 砸坏 砸死人 掉 掉落 砸人 坠物 高空坠物
signboard|招牌|fac|招牌 店招 广告牌 灯箱 大屏 广告牌匾 牌匾 户外广告
flyer|小广告|obj|小广告 牛皮癣 办证 乱贴 贴满 传单 贴小广告
graffiti|涂鸦|obj|涂鸦 喷涂 乱喷 乱画 喷漆涂鸦 油漆 乱涂
tree|树木|fac|树 大树 行道树 树枝 树木 枝丫 枝叶 树干 枯树 树冠 枝条 树杈 树长 桂花树 梧桐
tree_fall|倒伏|issue|倒伏 倒了 歪了 断枝 横在 压住 倒在路上 倒下 刮倒 吹倒 要倒 歪
pruning|修剪|issue|修剪 挡光 遮挡 挡住 挡完 挡完了 伸到 剪枝 长疯了 太密 过密 茂盛 太茂盛
green|绿地|fac|绿地 草坪 绿化 绿化带 花坛 草地 公共绿地 绿化带里
planting|种菜|issue|种菜 开垦 种植 蒜苗 葱 葱葱 蔬菜 挖了种 菜地 种葱
toilet|公厕|fac|公厕 厕所 公共厕所 卫生间 茅厕 茅房 如厕
dirty|脏乱|issue|脏 脏乱 脏得 烂菜叶 卫生差 没人打扫 保洁不到位 下不去脚 脏兮兮 邋遢 清扫 打扫 扫 保洁 落叶 环境卫生
    卫生
smell|臭味|sym|臭 臭味 恶臭 异味 发臭 臭烘烘 臭得很 气味 味道 刺鼻 难闻 臭气 除臭 臭死了 腥臭 味
dog|狗|obj|狗 犬 大狗 犬只 大型犬 烈性犬 狗屎 遛狗 狗狗 狗叫 宠物狗
leash|不牵绳|issue|不牵绳 不拴绳 没拴 没牵 不拴 牵绳 拴绳 拴 乱跑 追
clutter|杂物|obj|杂物 废品 纸壳 纸壳子 纸箱 纸箱子 旧家具 乱堆乱放 堆物 废品收购 收废品 杂物堆
river|河道|fac|河 河道 沙河 府河 河面 河水 河段 水面 河边 河里 河长办
floating|漂浮物|issue|漂浮物 漂 死鱼 漂浮 漂起 漂着 漂浮垃圾 黑臭
dust|扬尘|obj|扬尘 灰 灰尘 尘土 粉尘 裸土 防尘网 覆盖 降尘 洒水降尘 满天飞 土都没有盖 一层灰 未覆盖 灰扑扑 土堆 没盖
    黄土 尘
exhaust|废气|obj|废气 喷漆 烟囱 喷涂作业 油漆味 废气处理
car_wash|洗车|fac|洗车 洗车店 洗车场 洗车行
discharge|直排|issue|直排 偷排 排到 排入 排进 乱排 排放 往河里排 排口 排污口 排水口 排污 排黑水
pests|老鼠|obj|老鼠 耗子 鼠患 灭鼠 蟑螂 蚊子 苍蝇 消杀 鼠
poultry|活禽|obj|活禽 活鸡 活鸭 宰杀 杀鸡 杀鸭 血水 鸡毛 禽类
scale|秤|obj|秤 电子秤 鬼秤 缺斤少两 短斤少两 少二两 斤两 称不够 秤不准 不够秤 少秤
food|食品安全|obj|卤菜 拉肚子 吃坏 变质 食物中毒 发霉 过期食品 吃了不舒服
market|菜市场|ctx|菜市场 农贸市场 市场 摊位 菜场
base_station|基站|obj|基站 信号塔 发射塔 天线 信号基站 通信基站 铁塔
radiation|辐射|issue|辐射 电磁辐射 检测辐射
illegal_cab|黑车|obj|黑车 摩的 拉客 揽客 非法营运 黑摩的 载客 喊价
fee|收费|obj|停车费 乱收费 收停车费 收钱 不给票 无票据 收费 票据 收二十 物业费 电梯费 涨价 涨费 多收 费用
wrong_info|标注错误|issue|指错 标错 写错 指反 方向错误 标注错误 错误 误导
sign|标志标牌|fac|路牌 指示牌 标志 标牌 交通标志 指路牌 限速牌 交通指示牌 警示牌
marking|标线|fac|标线 斑马线 人行横道 地面标线
speed_bump|减速带|obj|减速带 减速垄 减速 开得飞快 车速快 开得快 飙
mirror|凸面镜|fac|凸面镜 反光镜 广角镜 转角镜
homeless|流浪人员|obj|流浪 流浪汉 露宿 乞讨 流浪老人 无家可归 救助站 流浪人员
camera|监控|fac|监控 摄像头 探头 天网
theft|被盗|issue|被盗 遭偷 小偷 偷 失窃 偷车 盗窃
gas_cylinder|液化气罐|obj|液化气 液化气罐 气罐 煤气罐 气瓶 液化石油气 钢瓶 液化石油气瓶 煤气坛
extinguisher|消防设施|fac|灭火器 消防栓 消火栓 消防设施 消防水带 喷淋
expired|过期|issue|过期 失效 没换 过了期
illegal_build|违建|obj|违建 违章建筑 违法建设 搭建 搭 棚 彩钢棚 彩钢瓦 加盖 私搭乱建 棚棚 违章搭建 搭棚 扩建 加建
renovation|装修|obj|装修 砸墙 装修队
clothes|晾晒|obj|晾晒 晒 晾 衣服 被子 裤子 晒被子 晾衣服 衣物 床单
congestion|拥堵|issue|堵车 拥堵 堵得 塞车 堵得要死 走不动 排长队
honk|鸣笛|obj|按喇叭 鸣笛 乱按喇叭
property|物业|ctx|物业 物业公司 物管 保安
residents|居民|ctx|居民 住户 业主 居民楼 楼上 楼下 邻居
children|儿童|ctx|娃儿 孩子 小孩 学生 小朋友 娃娃 儿童 上下学 放学 上学
elderly|老人|ctx|老人 老年人 婆婆 老人家 爷爷 奶奶 大爷 老汉儿
danger|危险|ctx|危险 吓人 怕 差点 摔 摔了 绊倒 摔倒 心慌 怕得很 吓死 吓死人 伤人 触电 出事
fire_hazard|火灾隐患|ctx|火灾隐患 消防隐患 着火 起火 火灾
school|学校|ctx|学校 校门口 小学 校门 中学 幼儿园 大学
flicker_noise|异响|issue|异响 咔咔响 吱吱响 抖 抖动 咔咔 哐哐
"""

#: Surfaces that stand for several concepts at once.
COMPOUNDS = """
黑灯瞎火=streetlight+not_lit+dark
遭人偷=missing+theft
遭人偷了=missing+theft
停到现在=outage
一直停起=outage
灯不亮=streetlight+not_lit
路灯不亮=streetlight+not_lit
路灯坏了=streetlight+broken
停水=water_supply+outage
没水=water_supply+outage
断水=water_supply+outage
来水=water_supply
停电=power+outage
断电=power+outage
没电=power+outage
停气=gas+outage
没气=gas+outage
断气=gas+outage
来气=gas
井盖丢了=manhole+missing
没有井盖=manhole+missing
水管爆了=water_pipe+leak
路面冒水=leak+road
污水外溢=sewage+overflow
污水横流=sewage+overflow
楼道充电=corridor+charging
电梯坏了=elevator+broken
油烟直排=lampblack+discharge
夜间施工=night+construction
半夜施工=night+construction
施工噪声=construction+noise
施工噪音=construction+noise
装修噪音=renovation+noise
广场舞音响=square_dance+speaker
占道停车=parking+obstruct
停人行道=parking+sidewalk
乱堆乱放=clutter+obstruct
占用消防通道=fire_lane+obstruct
堵塞=clogged+obstruct
堵了=clogged+obstruct
堵死=clogged+obstruct
楼顶漏水=roof+leak
外墙脱落=facade+falling
墙皮脱落=facade+falling
外墙渗水=facade+leak
树倒了=tree+tree_fall
水压低=water_supply+outage
水压好低=water_supply+outage
上不去=outage
"""

#: Dropped whole, so their parts are not read as concepts (没人管 is not 缺失, 安全隐患 says nothing specific).
STOP_PHRASES = """
没人管 莫得人管 没得人管 无人管 没有人管 莫得人 没得人 没人 没有人 无人 有人 有没有 没有 没得 莫得事 好几天
安全隐患 存在安全隐患 安全问题 影响通行 影响出行 影响休息 影响生活 影响市容 影响居民 严重影响 影响周边
要求尽快 尽快处理 及时处理 相关部门 有关部门 职能部门 请相关部门 核实处理 协调处理 加强管理 加强巡查
设置锥桶 锥桶 警示标志 警戒线 警戒带 拉警戒线 已拍照 拍照上报 拍照取证 已上报 已通知 已告知 已联系 已责令
市民来电反映 市民来电 来电人称 来电人反映 来电人 来电反映 市民反映 网格员 巡查发现 入户巡查 夜间巡查
管一哈 管一下 看一哈 来看一哈 赶紧 麻烦 谢谢 你们 咋个 啥子 啥时候 什么时候 到底 硬是 简直 根本
一个星期 一个月 好久 好几次 好几回 几天 两天 三天 每天 天天 每天晚上 现在 今天 昨天 前天 这几天 这两天 最近
"""

STOPWORDS = """
市民 居民们 来电 反映 称 表示 诉求 要求 请求 希望 建议 请 望 恳请 尽快 及时 立即 马上 处理 处置 解决 整治 整改
查处 核实 协调 督促 落实 规范 管理 相关 部门 有关 单位 政府 城管 交警 环保 街道 社区 物业 公司 中队 执法
网格 员 巡查 发现 上报 拍照 取证 现场 设置 警示 通知 告知 联系 责令 劝离 劝导 宣传 张贴 告知书 已 并 经
存在 隐患 安全 影响 严重 问题 情况 现象 事情 事 东西 地方 位置 附近 旁边 旁 周边 周围 一带 片区 区域 这边 那边
这里 那里 这儿 那儿 门口 门前 外面 外头 里头 里面 对面 前面 后面 后门 东门 西门 南门 北门 大门 路口 口 处
一处 一段 这段 那段 这一段 那一段 一片 这一片 一带 周围 附近 成华区 成都 成都市 四川 区
我 我们 我家 他们 她 他 你 你们 大家 别人 有人 人 人家 自己 这 那 哪 这个 那个 这些 那些 一个 一些 有些
的 了 着 过 得 地 吗 嘛 呢 吧 啊 哦 噻 撒 哈 嘞 咯 呀 哇 喔 嗯 是 在 有 和 与 及 或 也 都 又 还 就 才 只 很 太 好 挺
非常 特别 十分 极其 比较 越来越 一直 总是 经常 老是 天天 每次 已经 曾 曾经 还在 仍 仍然 依然 继续 连续 长期 长时间
多次 反复 多 少 大 小 个 些 点 一点 一下 一哈 下 上 中 内 外 间 之间 至 到 从 往 向 把 被 让 给 对 跟 比 为 因为 所以
但是 但 可是 而且 然后 结果 如果 就是 还是 或者 以及 不 没 别 莫 要 会 能 可以 应该 需要 想 说 讲 问 看 听 知道
晓得 觉得 感觉 认为 好像 似乎 疑似 疑为 可能 估计 肯定 一定 真的 实在 确实 简直 完全 全部 全 都 所有 每 各
时候 时间 今年 去年 上个月 这个月 本月 上周 这周 周末 周一 早上 上午 中午 下午 傍晚 今晨 凌晨 以后 以前 之后 之前
后 前 期间 当时 目前 至今 到现在 一年 半年 几年 多年 好几年 小时 分钟 天 月 年 号 栋 单元 楼 层 室 院 米 平方米
立方米 厘米 约 左右 多个 若干 大量 许多 很多 好多 一大堆 一堆 一排 几个 好几个 好几样 几样 一次 一回 第三回 三回
要 去 来 走 做 弄 搞 整 办 用 拿 找 打 开 关 放 帮 喊 叫 等 让 使 进行 出现 发生 造成 导致 引起 产生 带来 没法 不敢
打电话 电话 打不通 投诉 举报 反应 回复 答复 处理结果 满意 不满意 麻烦 谢谢 感谢 辛苦 拜托 帮忙 帮助 一下子
居住 生活 休息 出行 通行 行人 路人 过路 路过 过往 市容 环境 周边居民 群众 百姓 老百姓 群众们 行人们 人员 工作人员
有关单位 职能 主管 主管部门 负责 负责人 老板 店主 店家 商家 当事人 施工方 运营商 运营企业 住建部门 市政部门
"""

#: Concepts close enough that two reports naming them apart may still be one problem (half credit; for objects, no
#: mismatch).
RELATED_CONCEPTS = frozenset(
    frozenset(pair)
    for pair in (
        ("vendor", "shop_outside"),
        ("drain", "flooding"),
        ("drain", "manhole"),
        ("tree", "green"),
        ("lampblack", "bbq"),
        ("water_pipe", "water_supply"),
        ("gas", "gas_pipe"),
        ("power", "power_line"),
        ("speaker", "square_dance"),
        ("machinery", "construction"),
        ("muck_truck", "construction_waste"),
        ("construction", "dust"),
        ("private_wire", "ebike"),
        ("flyer", "graffiti"),
        ("bridge", "railing"),
        ("tile", "blind_path"),
        ("pothole", "tile"),
        ("illegal_cab", "vehicle_noise"),
        ("exhaust", "car_wash"),
        ("garbage", "pests"),
        ("not_lit", "dark"),
        ("smell", "sewage"),
    )
)

#: Issues that say little about what is wrong ("it is broken", "in the way"): alone they never clash, and they
#: agree with the issue families named here.
GENERIC_ISSUES: dict[str, frozenset[str]] = {
    "broken": frozenset({"fault", "damage", "missing", "drainage"}),
    "obstruct": frozenset({"blocked"}),
}

#: Issues of one family are compatible (不亮 and 停运 are both "does not work"; 堵 is a drain's or a way's).
ISSUE_FAMILY: dict[str, frozenset[str]] = {
    issue: frozenset(families.split())
    for issue, families in {
        "not_lit": "fault",
        "elevator_stop": "fault",
        "outage": "fault",
        "loose": "damage",
        "collapse": "damage",
        "crack": "damage",
        "falling": "damage",
        "tree_fall": "damage",
        "dangling": "damage",
        "rust": "damage",
        "missing": "missing",
        "theft": "missing",
        "flicker_noise": "fault damage",
        "clogged": "drainage blocked",
        "overflow": "drainage",
        "leak": "drainage",
        "parking": "blocked",
        "congestion": "blocked",
        "not_collected": "dumping blocked",
        "dumping": "dumping blocked",
        "spill": "dumping",
        "noise": "noise",
    }.items()
}
